package posterior_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/sde"
)

// NetworkPrior.VJP back-propagates through the score network: for random
// u, v, uᵀ (∂s/∂x)ᵀ v must equal vᵀ (s(x + hu) − s(x − hu)) / 2h. A tiny
// network with random (not NCSN++-initialised, whose zero last layer would
// make ε ≡ 0) weights; float32, so h = 1e-2 and a 1 % tolerance.
func TestNetworkPriorVJP(t *testing.T) {
	cfg := score.Config{ImageSize: 8, Channels: 1, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnResolutions: []int{4}, FourierScale: 16}
	net, err := score.New(cfg, nn.NaiveGemm{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range net.Params() {
		sc := 0.3
		if len(p.Shape) > 1 {
			fan := 1
			for _, d := range p.Shape[1:] {
				fan *= d
			}
			sc = 1 / math.Sqrt(float64(fan))
		}
		for i := range p.Data {
			p.Data[i] = float32(sc * r.NormFloat64())
		}
	}
	net.SetInference(true) // as the CLI loads it
	ve := sde.VE{SigmaMin: 1e-3, SigmaMax: 10}
	const k, d, tt = 2, 64, 0.4
	pr, err := posterior.NewNetworkPrior(net, ve, d, k)
	if err != nil {
		t.Fatal(err)
	}
	x, u, v := make([]float64, k*d), make([]float64, k*d), make([]float64, k*d)
	for i := range x {
		x[i], u[i], v[i] = r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
	}
	s0, vj := make([]float64, k*d), make([]float64, k*d)
	if err := pr.VJP(vj, v, k); err == nil {
		t.Error("VJP before ScoreKeep accepted")
	}
	if err := pr.ScoreKeep(s0, x, k, tt); err != nil {
		t.Fatal(err)
	}
	if err := pr.VJP(vj, v, k); err != nil {
		t.Fatal(err)
	}
	const h = 1e-2
	sp, sm, xp := make([]float64, k*d), make([]float64, k*d), make([]float64, k*d)
	for i := range xp {
		xp[i] = x[i] + h*u[i]
	}
	if err := pr.Score(sp, xp, k, tt); err != nil {
		t.Fatal(err)
	}
	for i := range xp {
		xp[i] = x[i] - h*u[i]
	}
	if err := pr.Score(sm, xp, k, tt); err != nil {
		t.Fatal(err)
	}
	for img := range k {
		var lhs, rhs, norm float64
		for i := img * d; i < (img+1)*d; i++ {
			lhs += u[i] * vj[i]
			rhs += v[i] * (sp[i] - sm[i]) / (2 * h)
			norm += math.Abs(v[i] * (sp[i] - sm[i]) / (2 * h))
		}
		if math.Abs(lhs-rhs) > 0.01*norm || norm == 0 {
			t.Errorf("image %d: uᵀJᵀv = %.6g, finite difference %.6g (scale %.3g)", img, lhs, rhs, norm)
		}
	}
	// The parameter gradients VJP causes are cleared.
	for _, p := range net.Params() {
		for _, g := range p.Grad {
			if g != 0 {
				t.Fatalf("%s: gradient left at %g", p.Name, g)
			}
		}
	}
	if err := pr.VJP(vj, v, k); err == nil {
		t.Error("VJP after a plain Score accepted")
	}
	// Score runs in inference mode, ScoreKeep in training mode (where
	// Backward works): back and forth gives the same VJP.
	vj2 := make([]float64, k*d)
	if err := pr.ScoreKeep(s0, x, k, tt); err != nil {
		t.Fatal(err)
	}
	if err := pr.VJP(vj2, v, k); err != nil {
		t.Fatal(err)
	}
	for i := range vj {
		if math.Abs(vj[i]-vj2[i]) > 1e-6*(1+math.Abs(vj[i])) {
			t.Fatalf("pixel %d: VJP %g, again after a Score %g", i, vj[i], vj2[i])
		}
	}
	if err := pr.ScoreKeep(s0, append(x, x...), 2*k, tt); err == nil {
		t.Error("ScoreKeep of more than maxBatch images accepted")
	}
}
