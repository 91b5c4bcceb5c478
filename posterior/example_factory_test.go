package posterior_test

import (
	"fmt"

	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/sde"
)

// shift is a toy operator on 4-pixel images: each image pixel sees the
// average of two neighbouring source pixels (periodically).
type shift struct{}

func (shift) Dims() (int, int) { return 4, 4 }
func (shift) Apply(dst, x []float64) {
	for i := range dst {
		dst[i] = (x[i] + x[(i+1)%4]) / 2
	}
}
func (shift) Adjoint(dst, r []float64) {
	for j := range dst {
		dst[j] = (r[j] + r[(j+3)%4]) / 2
	}
}

// A likelihood chosen by name (as lenscore's --likelihood flag does), built
// by the factory and evaluated once; Configure sets the sampler options
// the kind needs, and PriorBatch the prior's batch size for 16 chains.
// At x = 0 and σ(0)² ≪ σ_n² the diag score is Aᵀy/(σ_n² + σ² (AAᵀ)_ii)
// = (½, ½, 0, 0)/(0.01 + 10⁻⁶·½).
func ExampleNewLikelihood() {
	ve := sde.VE{SigmaMin: 1e-3, SigmaMax: 10}
	kind, err := posterior.ParseLikelihoodKind("diag")
	if err != nil {
		fmt.Println(err)
		return
	}
	lik, err := posterior.NewLikelihood(kind, posterior.LikelihoodConfig{Op: shift{},
		Y: []float64{1, 0, 0, 0}, SigmaN: []float64{0.1}, Sigma: ve.Sigma})
	if err != nil {
		fmt.Println(err)
		return
	}
	score := make([]float64, 4)
	lik.Score(score, []float64{0, 0, 0, 0}, 0, make([]float64, lik.ScratchLen()))
	fmt.Printf("%s score at x = 0, t = 0: %.4f\n", kind, score)

	var opt posterior.Options
	jac := posterior.LikelihoodProjectedJacobian
	if err := jac.Configure(&opt, 0.3); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: PriorJacobian %v below σ = %g, prior batch %d for 16 chains\n", jac, opt.PriorJacobian, opt.JacobianBelow, jac.PriorBatch(8, 16))
	_, err = posterior.ParseLikelihoodKind("exactish")
	fmt.Println(err)
	// Output:
	// diag score at x = 0, t = 0: [49.9975 49.9975 0.0000 0.0000]
	// projected-jacobian: PriorJacobian true below σ = 0.3, prior batch 16 for 16 chains
	// posterior: likelihood "exactish" must be convolved, diag, exact, projected or projected-jacobian
}
