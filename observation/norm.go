package observation

import (
	"fmt"
	"math"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
)

// AutoSourceNorm chooses the source normalisation s of an observation in
// physical units: the peak of the posterior mean of the source under an
// isotropic Gaussian prior whose amplitude maximises the evidence (an exact
// linear inversion, independent of the data's units). The score prior was
// trained on sources of peak ≈ 1, so dividing the data and noise by s puts
// the source where the prior expects it. Lensing conserves surface
// brightness, so s is also close to the brightest arc pixel before PSF
// blurring.
//
// The inversion is dense in the source pixels (O(N³) for N = SrcNPix²:
// seconds at 64²).
func AutoSourceNorm(op *lens.Operator, y, sigma []float64, keep []bool) (float64, error) {
	_, n := op.Dims()
	g, err := posterior.NewIsoGaussian(make([]float64, n), 1, func(float64) float64 { return 0 })
	if err != nil {
		return 0, err
	}
	inv, err := posterior.Invert(op, y, sigma, g, posterior.InvertOptions{Keep: keep, ScaleMin: 1e-8, ScaleMax: 1e8})
	if err != nil {
		return 0, fmt.Errorf("source normalisation: %w", err)
	}
	peak := math.Inf(-1)
	for _, v := range inv.Mean {
		peak = math.Max(peak, v)
	}
	if !(peak > 0) || math.IsInf(peak, 0) {
		return 0, fmt.Errorf("source normalisation: the Gaussian-prior source has no positive peak (%g); is the lens model right?", peak)
	}
	return peak, nil
}
