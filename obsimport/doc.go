// Package obsimport turns a telescope frame — an image, its 1σ noise map and
// a PSF, as FITS files — into lenscore's observation file (package
// observation): cut out, rebinned, masked, with the PSF prepared and the
// noise map checked against the sky. `lenscore import-obs` is its command.
//
// # Cut-out
//
// The observation is NPix×NPix output pixels of Rebin×Rebin input pixels,
// so the cut-out is S = NPix·Rebin input pixels a side, placed so that its
// centre is as close as possible to the requested centre (x, y) (0-based
// input pixel coordinates, column then row; default the image centre):
// its first column is x₀ = round(x − (S−1)/2), likewise y₀. The output grid's
// origin (lenscore's pixel-centre convention, (j − (NPix−1)/2)·scale) is
// then at input pixel (x₀ + (S−1)/2, y₀ + (S−1)/2), and the requested centre
// at (CenterX, CenterY) arcsec on the output grid (|·| ≤ half an input
// pixel), recorded in the keywords CENTERX and CENTERY. The cut-out must
// lie inside the image. A WCS is carried over with CRPIX shifted (and
// rebinned: see observation.RebinWCS).
//
// # Pixel scale
//
// From the image's celestial WCS when it has one (the square root of the
// CD matrix's determinant), else from the PixelScale option; both given and
// different by more than 0.1 % is an error. The output scale is Rebin times
// the input's.
//
// # Rebinning and noise
//
// An output pixel is the mean of its k×k input pixels (k = Rebin), so the
// image keeps the input's units per input pixel (surface brightness is
// unchanged), and its noise is propagated exactly for independent pixels:
//
//	σ_out = sqrt(Σ σ_i²) / k².
//
// An output pixel is masked when any of its input pixels is.
//
// # Masks
//
// A pixel is excluded from the likelihood (MASK extension 0) when
//   - its image value or noise is not finite, or its noise is larger than
//     NoiseMaxFactor × the median noise of the cut-out (default 100; HST
//     pipelines mark saturated stars with σ = 10⁸);
//   - a mask file (same shape as the image) holds 0 there;
//   - an annulus is given and the pixel centre's distance from the
//     requested centre is outside [Rin, Rout] arcsec;
//   - its centre falls inside one of the circles (x, y, r), in arcsec on the
//     output grid (the lens model's frame).
//
// Zero or negative noise in the cut-out is an error, not a mask: it means
// the noise map is not a 1σ map.
//
// # Correlated noise of drizzled images
//
// Drizzled HST images have noise correlated between neighbouring pixels,
// and their noise maps give the variance before the correlation's
// smoothing: the pixel-to-pixel scatter is smaller than the map says
// (0.7–0.8 of it at 0.05″ for SLACS frames). Import measures the true
// scatter on empty sky and rescales the noise map by it (SkyScatter
// "measure", the default): over the valid pixels of the whole frame outside
// the circle inscribed in the cut-out (where the lens and its arcs are),
// rebinned like the observation, it forms the second differences
//
//	z = (2y_i − y_{i−L} − y_{i+L}) / sqrt(4σ_i² + σ_{i−L}² + σ_{i+L}²)
//
// along rows, with L = ⌈4/k⌉ output pixels (4 input pixels, beyond the
// drizzle kernel's reach), so light that is linear over 2L pixels (the
// lens galaxy's wings) cancels and, for noise uncorrelated at lag L, z has
// variance f²; f = 1.4826·MAD(z) is robust to stars and galaxies in the
// field. The noise map is multiplied by f,
// recorded as NOISESCL and in HISTORY. A likelihood that treats the pixels
// as independent then has the right variance per pixel; the correlation
// itself is not modelled (posteriors are slightly over-confident on scales
// of a pixel). SkyScatter "none" keeps the map; a number uses that factor.
//
// # PSF
//
// The kernel is centred on its brightest pixel (the largest odd square
// about it that fits in the array), cropped to the smallest odd square
// holding PSFFlux of its flux (default 0.99; 1 keeps it whole), rebinned to
// the output grid and normalised to unit sum. Rebinning by k maps a
// kernel K on the input grid to
//
//	K'[A] ∝ Σ_{|u|<k} (k − |u|) K[k·A + u]   (per axis),
//
// the exact kernel between block means for light that is uniform inside
// each block (the triangle is the autocorrelation of the k-pixel box), so
// it stays centred for even k too.
//
// # Units
//
// Values keep the input's units (BUNIT from the image header, else the
// Unit option, default electron/s for HST drizzled frames). The source
// normalisation for the prior is chosen later, when the lens is known
// (observation.AutoSourceNorm), since only then is the source's peak
// known.
package obsimport
