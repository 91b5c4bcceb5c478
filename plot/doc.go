// Package plot draws lenscore's figures as PNG files with gonum.org/v1/plot:
// the layout of fig. 1 of Adam et al. (2022) (Fig1), the noise ladder
// (Fig2), posterior samples with their reconstructed observations and
// residuals (Fig3), image grids (Grid) and line plots such as loss curves
// and TARP expected-coverage curves (Curve, CurveWith, TARPCurve).
//
// # Conventions
//
// Images are float64 slices, row-major img[row·nx + col], and are drawn
// with row 0 at the bottom (origin lower, row 0 at the most negative y), one
// square device block per pixel (nearest-neighbour, no smoothing). With a
// pixel scale s (arcsec/pixel) the axes are x, y in arcsec with the image
// centred on the optical axis: extent [−nx·s/2, nx·s/2] × [−ny·s/2, ny·s/2];
// with s = 0 ticks are hidden and the size in pixels is noted under the
// panel. Every panel has a title and a vertical colour bar with its label.
//
// Colours: brightness and standard deviations use viridis (Sequential);
// signed residual signal-to-noise maps use a blue–grey–red diverging map
// (Diverging) centred at 0 over ±3σ by default, red where the data (or the
// truth) exceed the model. NaN pixels (masked, or undefined such as
// std = 0) are mid grey, NaNColor. Values beyond a panel's range take the
// end colours. Within a row of Fig1, Fig2 and Fig3 brightness panels share
// one range (truth or observation) so they can be compared by eye.
//
// Residual maps are computed with package diag:
//
//	image plane   (y − A x)/σ_n        titled with χ²/ν = (1/ν) Σ r², ν = unmasked pixels
//	source plane  (x_true − mean)/std  (truth minus estimate)
//
// σ_n is written "σ_n" in titles (the font has no subscript n).
//
// # Files
//
// Figures are rendered at DPI dots per inch and written atomically: the PNG
// goes to a temporary file in the destination directory that is renamed
// over the destination only after a complete, synced write. On error the
// temporary file is removed and the destination is left untouched. Bad
// input (wrong image sizes, missing panels) returns an error naming the
// panel; drawing-library panics are returned as errors.
package plot
