// Package observation reads and writes lenscore's observation file: one FITS
// file holding everything a command needs to evaluate the likelihood of a
// source given a lensed image.
//
// # Layout
//
// The primary HDU is the observed image y, NPix×NPix, [row][col] with row 0
// at the most negative y (FITS order), pixel centres at
// (j − (NPix−1)/2)·PixelScale arcsec from the optical axis of the lens model.
// Its header carries the geometry and noise keywords
//
//	PIXSCALE  observation pixel scale [arcsec]           (required)
//	SRCNPIX   source grid side [pixels]                  (default 64)
//	SRCSCALE  source pixel scale [arcsec]                (required by the operator)
//	SUPERSMP  ray-tracing supersampling factor           (default 2)
//	NOISESIG  uniform Gaussian noise σ per pixel         (0 or absent: see NOISEMAP)
//	NOISSEED  seed of simulated noise
//	PSFFWHM   Gaussian PSF FWHM [arcsec] (0: none, or the PSF extension)
//	SRCNORM   source normalisation s (see Units)         (0 or absent: none chosen)
//	NOISESCL  factor applied to the noise map on import  (1: none)
//	BUNIT     unit of the image, e.g. "electron/s"
//	LENSFILE  lens file used by a simulation
//
// and, when the image came from a telescope frame, its world coordinate
// system (CTYPEi, CRPIXi, CRVALi, CDi_j or CDELTi/PCi_j, CUNITi, RADESYS,
// EQUINOX, …), updated for any cut-out or rebinning. HISTORY cards record
// how an imported image was made. Optional image extensions:
//
//	NOISEMAP   per-pixel 1σ noise, same shape as the image, all > 0 where used
//	MASK       1 where the pixel enters the likelihood, 0 where it is excluded
//	PSF        odd-sized kernel on the image grid, centred, unit sum
//	SOURCE     the true source of a simulation, SRCNPIX×SRCNPIX
//	NOISEFREE  the noise-free image of a simulation
//	LENSLIGHT  a lens-light model already subtracted from the image
//
// Files written before this package (by `lenscore simulate`) have the same
// layout without NOISEMAP and MASK and read unchanged.
//
// # Units
//
// Images are in the data's own units (BUNIT; e⁻/s for HST frames). The score
// prior was trained on sources scaled to a peak of about 1, so a sampler
// works on x/s with the data and noise divided by s, and multiplies its
// samples by s again: outputs are always in the data's units. SourceNorm
// records s; 0 means "not chosen", and 1 is the right value for simulations
// made in prior units.
//
// # Validation
//
// Read checks what every command relies on and names the file and keyword or
// extension at fault: a finite square image, positive finite scales,
// NOISEMAP and MASK of the image's shape, noise > 0 and finite wherever the
// mask keeps the pixel, at least one kept pixel, an odd PSF with a positive
// sum. Write validates the same before it writes, atomically (temporary file
// then rename), so a failed write leaves no partial file.
package observation
