// Package lens is the strong-lensing forward model of lenscore: mass models
// and ray tracing, light profiles, the sparse linear operator A (with its
// exact adjoint) that maps a pixelated source to an observed image, PSFs,
// Gaussian noise and the JSON lens-file format. Everything is float64.
//
// # Conventions
//
// The conventions are lenstronomy's, so that parameters carry over:
//
//   - Angles are in arcsec. The lens equation is β = θ − α(θ).
//   - Axis ratio q = minor/major ∈ (0, 1]; position angle φ is the major
//     axis measured counter-clockwise from +x. The rotated frame about a
//     centre (x_c, y_c) is x' = cos φ (x−x_c) + sin φ (y−y_c),
//     y' = −sin φ (x−x_c) + cos φ (y−y_c).
//   - Ellipticity e1 = (1−q)/(1+q) cos 2φ, e2 = (1−q)/(1+q) sin 2φ; the
//     inverse is φ = ½ atan2(e2, e1), q = (1−|e|)/(1+|e|).
//   - Grids (Grid) are square, n×n, centred on the origin: pixel j has its
//     centre at (j − (n−1)/2)·scale. Images are [row][col] flattened
//     row-major, row 0 at the most negative y (FITS order), col 0 at the
//     most negative x.
//
// # Mass models
//
// SIE (singular isothermal ellipsoid), with θ_E the product-average
// Einstein radius:
//
//	κ = θ_E / (2 sqrt(q x'² + y'²/q)).
//
// With b = θ_E √q, q' = sqrt(1−q²) and ψ = sqrt(q² x'² + y'²), the
// deflection in the rotated frame is the closed form of Kormann, Schneider &
// Bartelmann (1994) (as written by Keeton 2001):
//
//	α'x = (b/q') atan(q' x'/ψ),   α'y = (b/q') atanh(q' y'/ψ),
//
// rotated back by φ. The functions atan(q'u)/q' and atanh(q'u)/q' are
// evaluated by their Taylor series u(1 ∓ z²/3 + z⁴/5 ∓ z⁶/7), z = q'u, when
// |z| < 1e-3 (truncation error below z⁸/9 < 1e-25, so the two branches
// agree to rounding and the result is continuous in q); at q = 1 this is
// the SIS, α = θ_E r̂, exactly. At the centre α = 0. Because the SIE is
// homogeneous of degree zero in α, its potential is ψ_SIE = x'α'x + y'α'y
// (about the centre), and its Hessian in the rotated frame is
// b/(ψ r²)·[[y'², −x'y'], [−x'y', x'²]] with r² = x'² + y'², so γ = κ and
// det(I − ∂α) = 1 − 2κ: the κ = ½ curve is the tangential critical curve.
//
// SIS: α = θ_E (θ−θ_c)/|θ−θ_c|, κ = θ_E/(2r), ψ = θ_E r.
//
// External shear about the origin: α = (γ1 x + γ2 y, γ2 x − γ1 y),
// ψ = ½γ1(x² − y²) + γ2 x y, κ = 0.
//
// Composite sums components.
//
// # Light
//
// Sersic: I = amp·exp(−b_n((R/R_sersic)^{1/n} − 1)), b_n = 1.9992n − 0.3271,
// R = sqrt(q x'² + y'²/q), so amp is the brightness at R = R_sersic.
//
// PixelSource samples an n×n source by bilinear interpolation between pixel
// centres. Outside the grid the source is zero padded: between the
// outermost centres and one pixel beyond them the value falls linearly to
// a zero ghost pixel, and it is exactly zero further out. The integral of
// the interpolated surface is Σ pixels · scale².
//
// Render averages s×s sub-pixel samples at offsets ((k+½)/s − ½)·scale
// from each pixel centre.
//
// ObserveLight images an analytic source as lenstronomy does: the profile
// is evaluated at the ray-traced positions β_k = θ_k − α(θ_k) of the s×s
// sub-pixel centres of each image pixel, averaged (weight 1/s²), and
// convolved with the PSF as P below. The source is never pixelised, so a
// cuspy profile keeps its peak (pixelising an n = 2.5, R = 0.3″ Sérsic
// on a 64² grid of 0.05″ before the operator's bilinear interpolation
// loses 27 % of its image peak); it agrees with an independent
// point-sampled computation to 1e-14 (TestObserveLightMatchesPointSampledReference).
//
// # The operator
//
// A = P·L maps N = n_src² source pixels to M = n_obs² image pixels. Row i
// of L averages, over the s×s sub-pixel centres θ_k of image pixel i
// (default s = 2), the bilinear weights of the source grid at
// β_k = θ_k − α(θ_k), each weighted 1/s². P is the PSF convolution on the
// image grid,
//
//	(P y)[r][c] = Σ_{a,b} K[a][b]·y[r − (a − h_r)][c − (b − h_c)],
//
// for a kernel K normalised to unit sum with centre (h_r, h_c) = (⌊rows/2⌋,
// ⌊cols/2⌋) (odd sizes from NewPSF; a PSF literal of even size uses the
// same formula), with zero padding: image pixels outside the observed field
// contribute nothing, so flux that the PSF would scatter in from beyond the
// edge is not modelled and flux scattered out of the field is lost.
//
// A is kept factored. L is built once as a CSR matrix (rows sorted,
// duplicate entries merged) together with Lᵀ as a second CSR matrix, and
// the operator keeps a copy of K:
//
//	A x = P (L x),   Aᵀ r = Lᵀ (Pᵀ r),
//	(Pᵀ r)[r][c] = Σ_{a,b} K[a][b]·r[r + (a − h_r)][c + (b − h_c)],
//
// Pᵀ being the correlation with K under the same zero padding, the exact
// adjoint of P. Composing P into the matrix would multiply its non-zeros by
// up to the number of taps (64² source and image, 11×11 Gaussian: 22 k →
// 820 k; 256² source, 128² image: 135 k → 10.4 M), whereas the factored
// form stores nnz(L) plus the taps and costs nnz(L) + taps·M per product.
// P is evaluated as a stencil over image rows: for each output row, the
// taps whose source row lies inside the image are applied over the
// interior columns (where no tap reads outside the image) in fused groups
// of four contiguous multiply-adds, and each tap over its own few valid
// edge columns separately, so there is no per-pixel bounds test; zero taps
// are skipped. When K equals the outer product of its column and row
// through the peak to within 1e-15·max|K| (a sampled Gaussian), P is
// applied as a row pass followed by a column pass (rows+cols instead of
// rows·cols taps; zero padding separates exactly), which agrees with the
// 2-D sum to rounding. The M-pixel intermediate comes from a sync.Pool,
// so Apply and Adjoint are allocation-free in steady state and safe for
// concurrent use.
//
// At(i, j), NNZ and RowNorms2 describe the composed A: At sums
// K[a][b]·L[(r−(a−h_r), c−(b−h_c))][j] over the taps in row-major order, so
// it equals the entry a composed CSR matrix would hold bit for bit; NNZ
// (the structural non-zeros of the composed matrix) and RowNorms2
// (diag(A Aᵀ)) are computed once, on first use, by composing one row of A
// at a time in a dense accumulator and discarding it. StoredNNZ counts
// what the operator actually stores: nnz(L) plus the non-zero taps.
// DirectForward evaluates the same map without a matrix (ray-trace,
// interpolate, pool, convolve) and is the test reference.
//
// GaussianPSF samples exp(−r²/2σ²), σ = FWHM/(2 sqrt(2 ln 2)), at pixel
// centres, truncated by default at ⌈5σ⌉ pixels.
//
// # Noise
//
// AddNoise and AddNoiseMap add N(0, σ²) draws from math/rand/v2's PCG
// seeded by NewRand(seed): the same seed gives the same noise.
//
// # Lens parameter vector and priors
//
// Params is an SIE + external shear lens as the vector (θ_E, e1, e2,
// center_x, center_y, γ1, γ2) (ParamNames), in the lens-file conventions;
// ParamsFromModel reads it from a model of one SIE (or SIS) and at most one
// SHEAR. Priors gives each entry a ParamPrior: fixed, or free with uniform
// bounds [Min, Max] times an optional Gaussian N(Mean, Sigma²), plus the
// joint bounds |e| < MaxEllipticity and |γ| < MaxShear. DefaultPriors(h)
// for an image of half-width h: 0 < θ_E ≤ h, |e1|, |e2|, |e| < 0.6, the
// centre inside the field, |γ1|, |γ2|, |γ| < 0.3, everything free.
// LogPrior is −Inf outside the support and −½Σ((p_i − Mean_i)/Sigma_i)²
// inside (the uniform factors are constant). A PriorSpec overlays partial
// priors: a lens file's "priors" block or the command-line form of
// ParsePriorFlag ("theta_e=0.5:2,center_x=N(0,0.05),gamma1=fixed,e=0.5").
//
// Rows is the composed operator A = P·L held as sparse rows and rebuilt in
// place for each lens (for the dense normal matrices of package lensfit);
// its entries equal Operator.At.
//
// # Lens files
//
// Parse and ParseFile read the JSON format documented on Parse; errors
// name the file and the offending field, e.g.
// "lens.json: components[0] (SIE): theta_e must be > 0, got -1".
// Model.MarshalJSON and Model.WriteFile (atomic) write it back.
package lens
