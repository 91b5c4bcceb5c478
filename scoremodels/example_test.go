package scoremodels_test

import (
	"fmt"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/scoremodels"
)

// Read a score_models checkpoint directory and evaluate the score
// model(t, x)/σ(t) of one 8×8 image at t = 0.5.
func ExampleRead() {
	m, err := scoremodels.Read("../score/testdata/ncsnpp/nf8_12_nofir", -1, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	net, err := m.Net(new(nn.GoGemm))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer net.Close()
	x := make([]float32, 64)
	eps := net.ForwardTime(x, []float32{0.5}, 1)
	fmt.Printf("checkpoint %d: nf %d, ch_mult %v, %d parameters, σ(0.5) = %.4f, %d score values\n",
		m.Index, m.Config.NF, m.Config.ChMult, net.NumParams(), m.VE.Sigma(0.5), len(eps))
	// Output: checkpoint 1: nf 8, ch_mult [1 2], 45910 parameters, σ(0.5) = 0.2236, 64 score values
}
