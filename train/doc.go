// Package train fits lenscore's score network ε_θ(x, σ) to a folder of
// galaxy images by denoising score matching (DSM), with Adam, learning-rate
// warm-up, gradient clipping, an exponential moving average (EMA) of the
// weights, held-out validation and exactly resumable checkpoints.
//
// # Data pipeline
//
// LoadDir reads every PNG (8/16-bit grey, grey+alpha, paletted or RGB(A);
// colour is reduced to luminance Y = 0.2126 R + 0.7152 G + 0.0722 B of the
// stored values, alpha composited on black) and every FITS image HDU (each
// plane of a cube is one image) in a folder. Orientation follows FITS: row 0
// is the bottom of the picture (most negative y), so PNG rows are flipped on
// load and FITS rows are kept. Each image is then (Prepare):
//
//  1. centre-cropped to a square of side s = min(width, height);
//  2. resampled to Size×Size: for Size ≤ s by an exact box filter (each
//     output pixel is the overlap-weighted mean of the input pixels under
//     its footprint, the k×k block mean when s = k·Size), for Size > s by
//     bilinear interpolation between pixel centres;
//  3. normalised per image: the background b is the median of the pixels in
//     a border of width max(1, Size/16), and x ← max(x − b, 0)/max(x − b),
//     so the sky sits at 0 and the peak at 1, as the PROBES images of
//     Adam et al. (2022) are normalised to unit peak. The median of the
//     border is robust to a galaxy or star touching one edge. Clipping at 0
//     removes the negative half of the sky noise; with LoadOptions.KeepSky
//     (`lenscore train --keep-sky`, model metadata sky = kept) it is kept,
//     x ← (x − b)/max(x − b), so the sky is noise centred on 0 as in an
//     observation (SkyStats measures the negative fraction and the sky
//     noise 1.4826·MAD of the border); with LoadOptions.DenoiseSky
//     (`lenscore train --sky denoised`, sky = denoised) the resampled image
//     is first denoised (Denoise: starlet transform, hard thresholding of
//     the detail coefficients at 3σ per scale, σ estimated from the finest
//     scale) and not clipped: a lensed source has no sky noise of its own —
//     the noise of a lens observation is in the image plane — so the prior
//     should learn the galaxy, not its photograph's noise. What it costs:
//     light below 3σ at every scale goes with the noise, a smooth peak
//     loses a few per cent (5.5 % of a σ = 4 px Gaussian at 1.8σ of noise,
//     TestDenoise), and the coarse scale (about 60 px at J = 4) spreads
//     ≈ 0.2 % of the peak into the border of some images;
//  4. with LoadOptions.Stars (the default of `lenscore train`), cleaned of
//     foreground stars (RemoveStars): a pixel more than 0.1 above the
//     median of the ring two pixels out, where the galaxy's smooth light
//     (the 9×9 median) is below 0.05 and which is not within Size/8 of the
//     centre, is a star pixel; it and its 8 neighbours take the 9×9 median,
//     and the image is rescaled to peak 1. An image whose brightest pixel
//     was a star and whose galaxy then peaks below MinGalaxyPeak = 0.2 of
//     it is skipped. A lensed source lies far behind the Milky Way's stars,
//     so they are not source structure; a prior that learns them places
//     stars where the data say nothing.
//
// A folder in GalSim's RealGalaxy layout (HST postage stamps in linear
// flux next to their PSF files, e.g. the COSMOS sample) is read by
// LoadRealGalaxies instead: each stamp with a peak S/N of at least
// DefaultMinPeakSNR is kept at its native 0.03″ pixels (the experiments'
// source pixel), placed at the centre of a Size×Size canvas padded with
// its own sky level and noise, and normalised as in step 3.
//
// Images that are blank after background subtraction or contain a
// non-finite pixel are listed in Dataset.Skipped. Gamma- or asinh-stretched
// inputs (e.g. the Galaxy Zoo cut-outs) are used as they are: the prior then
// learns stretched images, which is the caller's choice.
//
// An image is held out for validation when the first 8 bytes of the
// SHA-256 of its name, read as an integer and divided by 2⁶⁴, fall below
// the validation fraction (default 10%). Membership depends on the name
// alone, so adding files never moves an existing image between the parts.
//
// # Objective
//
// With the VE schedule σ(t) = σ_min (σ_max/σ_min)^t (package sde), σ_min =
// 1e-4 and σ_max the largest pairwise Euclidean distance between training
// images (the first 1000 by name at most), each example of a batch of B
// images of P pixels draws an image x (uniformly, with replacement), a
// random element of the dihedral group of the square (4 rotations × optional
// flip, see Dihedral) when Augment is set, optionally a shift
// (dx, dy) ~ U(−Shift, Shift)² pixels and a magnification a = (1+Scale)^u,
// u ~ U(−1, 1), about the centre (Affine: the exact pixel integral of the
// transformed piecewise-constant image, which conserves flux, with the
// frame mirrored at its edges), t ~ U(t_min, 1) and z ~ N(0, I).
// The network sees x̃ = x + σ(t) z and the loss is
//
//	L = 1/(B P) Σ_b ‖ε_θ(x̃_b, σ_b) + z_b‖²,    ∂L/∂ε = 2(ε + z)/(B P),
//
// whose minimiser is ε_θ(x, σ) = σ ∇ₓ log p_σ(x) (DSM with the λ(σ) = σ²
// weighting; a network that outputs 0 scores 1).
//
// # Optimiser
//
// Gradients g are clipped by their global norm: if ‖g‖ > c, g ← g·c/‖g‖
// (c = ClipNorm, default 1). Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8) then
// applies update s = 1, 2, …:
//
//	m ← β₁ m + (1−β₁) g,   v ← β₂ v + (1−β₂) g²
//	θ ← θ − η_s (m/(1−β₁ˢ)) / (√(v/(1−β₂ˢ)) + ε),   η_s = η·min(1, s/W)
//
// with η = 2e-4 and W = 5000 warm-up steps by default (NCSN++, Song et al.
// 2021). An optional decay (Config.LRDecay, `lenscore train --lr-decay`)
// replaces η by d_s = η_min + (η − η_min) c(u), u = min(1, (s−S)/(E−S)),
// for s > S, with c(u) = (1 + cos πu)/2 (cosine) or 1 − u (linear): the
// rate leaves η after update S and reaches η_min at update E (LRSchedule).
// The schedule is part of the checkpoint, so a resumed run keeps it; a
// change on resume (Trainer.ChangeSchedule) applies from the next update
// on and is listed with its step in ckpt.json (lr_changes) and the model
// metadata (lr_changes; lr_schedule holds the schedule in force). After update s the EMA weights follow θ̄ ← d_s θ̄ + (1−d_s) θ with
// d_s = min(d, (1+s)/(10+s)) (d = 0.999; θ̄ starts at the initial θ, and the
// ramp keeps it from remembering the random initialisation in short runs);
// θ̄ is what sampling uses. There is no weight decay.
//
// # Validation
//
// Every ValEvery steps the DSM loss is evaluated on (at most ValMax)
// held-out images with noise that never changes: image j uses t_j and z_j
// drawn from PCG(seed, 2⁶³ + j). The loss is reported for the EMA weights
// (val_loss) and the current weights (val_loss_raw); both are comparable
// across evaluations and runs with the same seed.
//
// # Randomness and exact resumption
//
// Update s draws all its randomness from math/rand/v2 PCG(seed, s), in the
// order: for each example, image index, dihedral element, shift dx and dy
// (when Shift > 0), magnification (when Scale > 0), t, then the pixels of
// z. A run without shifts and scalings draws exactly what earlier versions
// drew, so their checkpoints resume unchanged. The state needed to continue is therefore the step count, the
// weights, the EMA weights and the Adam moments, all float32 and saved
// bit-exactly; a run interrupted at any checkpoint and resumed with the same
// data ends with the same bits as an uninterrupted run (the model's Forward
// and Backward must themselves be deterministic).
//
// What is reproducible: for a given seed, dataset, configuration and
// worker count, training gives the same bits every time, interrupted or
// not. It is not independent of the worker count: score.Net splits a batch
// among its workers and each sums its images' float32 gradients before the
// per-worker sums are added, so a different count rounds differently (and
// the difference grows over many steps). The count (WorkerCounter) is
// stored in ckpt.json and Open refuses a model with another one. It is
// also not independent of the batch size, which changes the updates
// themselves. Sampling, by contrast, does not depend on either.
//
// # Run directory
//
//	ckpt-<step>.safetensors  tensors model/<name>, ema/<name>, adam_m/<name>,
//	                         adam_v/<name>; metadata format and step
//	ema.safetensors          EMA weights under the model's own names, with
//	                         metadata step, sigma_min, sigma_max, image_size,
//	                         augment (Config.AugmentDescription),
//	                         lr_schedule (LRSchedule.String)
//	ckpt.json                the manifest: step, tensor file name, config,
//	                         data fingerprint, elapsed time, the sum and
//	                         count of the losses since the last log line
//	                         (so a resumed run logs the same means), and
//	                         the learning-rate schedule changes made on
//	                         resume (lr_changes)
//	train.jsonl              one JSON object per logged step: step, time,
//	                         elapsed_s, lr (the rate of that update), loss (mean since the previous
//	                         line), grad_norm, and val_loss, val_loss_raw
//
// A checkpoint writes the tensor file and ema.safetensors, each to a
// temporary name that is fsynced and renamed, then replaces ckpt.json the
// same way, and only then deletes older tensor files. Whenever the process
// is killed, ckpt.json names a complete tensor file of the same step. On
// resume, log lines for steps after the checkpoint are dropped and the log
// continues. Checkpoints are written every CheckpointEvery steps, every
// CheckpointMinutes of wall time, at the end and when the context is
// cancelled (Run then returns the context's error).
package train
