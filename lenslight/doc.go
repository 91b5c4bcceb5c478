// Package lenslight fits the light of the lens galaxy in an observed image,
// so that a user with an image that still shows the deflector gets a
// lens-light-subtracted residual to model the lensed source in (or
// templates whose amplitudes a lens fit re-solves with the source).
//
// # Model
//
// The lens light is K concentric elliptical Sérsic profiles (lens.Sersic:
// I(R) = b·exp(−b_n((R/R_s)^{1/n} − 1)), R = sqrt(q x'² + y'²/q) in the frame
// rotated by φ), each rendered on the image grid (pixel averages of S×S
// sub-pixel samples, 8×8 within two pixels of the centre where cuspy
// profiles change fastest), convolved with the PSF, plus a constant sky:
//
//	m = Σ_k b_k · P(T_k(θ_k)) + c.
//
// For given shapes θ (common centre; per profile R_s, n, q, φ) the
// amplitudes b and the sky c are linear and solved by weighted least
// squares, min Σ_kept (y − m)²/σ², with any negative b_k fixed to 0; the
// shapes are found by Nelder–Mead (package mcmc) on χ², restarted from its
// end point while that gains more than ½ in log-likelihood. One profile is
// fitted first, Passes times (n = 4 start, size and shape from the image's
// second moments); then two, Passes times, starting from it, one half and
// one twice its size (n = 1). Sérsic indices are kept in [0.5, 6], |e| ≤
// 0.8 and R_s below MaxRadius.
//
// # The lensed source
//
// Arcs are light the Sérsics must not absorb. The fit is iterated: after
// each pass (Passes, default 2, per profile count), pixels more than ArcSigma (default 3) σ and ArcFrac (default
// 30 %) of the lens light above the model, grown
// by one pixel, are excluded from the next pass (they are arcs, counter-
// images or field objects), except within Protect (default 0.25″) of the
// centre, where the lens outshines any arc and a poorly fitted cusp must
// not mask itself away (the ArcFrac condition likewise keeps a misfit of
// the lens's own wings in the fit). A known arc region (Options.Exclude,
// e.g. an annulus about the Einstein radius) can be excluded from every
// pass. The final mask, the model and the residual
// y − m (the lens-light-subtracted image) are returned.
//
// # Refining the light jointly with the source
//
// Masking keeps the arcs out of Fit but leaves the light under them
// unconstrained: there the profiles are extrapolated from the centre and
// the outskirts. RefineJoint refines the shapes (per profile a centre,
// ln R_s, n, e1, e2; or one shared centre) with every pixel used, by
// Nelder–Mead on a SourceEvidence supplied by the caller: the log evidence
// log p(y | lens, templates) with the lensed source and the templates'
// amplitudes (and an optional constant sky) integrated out — for example
// lensfit.Evidence.LogEvidence at a fixed lens with the templates as
// lensfit.Components under wide Gaussian amplitude priors. The source model
// explains the arcs, so the light can neither absorb them nor be
// mis-extrapolated beneath them. The lens is held fixed (a preliminary fit
// to the masked-fit subtraction, in demo --real); the amplitudes are the
// caller's linear solve at the result (lensfit.Evidence.PosteriorMean).
//
// # Assumptions
//
// The lens light is smooth, concentric and elliptical (no dust lanes,
// discs with bars, or isophote twists beyond what two profiles of
// different φ give); the lensed source is fainter than the lens at the
// lens's centre and brighter than ArcSigma σ where it matters; the sky is
// constant over the cut-out. Light of the source hidden under the lens
// centre, below the arc threshold, is partly absorbed by the Sérsics.
//
// Conventions are lenstronomy's: arcsec, φ counter-clockwise from +x, q the
// minor/major axis ratio, the grid's pixel centres at (j − (N−1)/2)·scale.
package lenslight
