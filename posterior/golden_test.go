package posterior

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"testing"
)

// goldenRun is one fixed-seed sampler configuration whose samples were
// hashed with the sampler as it stood before its update rules were split
// into named types (commit "posterior: golden hashes of fixed-seed
// runs"); the hashes pin the arithmetic and the random-number order bit for
// bit. They hold on amd64, where Go does not fuse multiply–adds; on
// architectures that do (arm64, ppc64le, s390x) the hashes differ.
type goldenRun struct {
	name string
	// lik builds the likelihood (nil: prior samples).
	lik  func(p *problem, g *GRF) (Likelihood, error)
	opt  Options
	want string // hash of the samples and NFE
}

func goldenRuns() []goldenRun {
	conv := func(p *problem, g *GRF) (Likelihood, error) {
		return NewConvolved(p.op, p.y, p.sn, nil, testVE.Sigma)
	}
	proj := func(p *problem, g *GRF) (Likelihood, error) {
		return NewProjected(p.op, p.y, p.sn, nil, g, testVE.Sigma)
	}
	init := make([]float64, 64)
	for i := range init {
		init[i] = 0.1 * math.Sin(float64(i))
	}
	return []goldenRun{
		{"em", conv, Options{Seed: 7, FirstChain: 3, Chains: 5, Steps: 20}, "0604a60bd7df1f84"},
		{"pc", conv, Options{Seed: 7, FirstChain: 11, Chains: 5, Steps: 15, Sampler: SamplerPC, Corrector: 2, SNR: 0.2}, "d2227f6c3ec90fd3"},
		{"em-denoise", conv, Options{Seed: 8, FirstChain: 1, Chains: 4, Steps: 20, Denoise: true}, "c186d6db53bd27fc"},
		{"projected-pc-denoise", proj, Options{Seed: 9, FirstChain: 2, Chains: 4, Steps: 12, Sampler: SamplerPC, Denoise: true}, "af9aff449c162ec4"},
		{"projected-jacobian", proj, Options{Seed: 10, FirstChain: 5, Chains: 5, Steps: 20, PriorJacobian: true, JacobianBelow: 0.5}, "f48b14219bb1a9de"},
		{"projected-jacobian-pc", proj, Options{Seed: 10, FirstChain: 5, Chains: 3, Steps: 10, Sampler: SamplerPC, PriorJacobian: true, Denoise: true}, "a7f4e001bd3d16c8"},
		{"prior-only", nil, Options{Seed: 11, FirstChain: 7, Chains: 3, Steps: 20, InitMean: init, Sampler: SamplerPC, Denoise: true}, "b29c27dd80c5020b"},
	}
}

func hashSamples(res *Result) string {
	h := sha256.New()
	var b [8]byte
	for _, s := range res.Samples {
		for _, v := range s {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		}
	}
	fmt.Fprintf(h, "nfe=%d steps=%d", res.NFE, res.Steps)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// The samples of fixed-seed runs (EM, PC, Tweedie denoising, the projected
// likelihood with and without the prior's Jacobian, prior samples; chain
// offsets FirstChain ≠ 0) are bitwise those recorded before the sampler's
// refactoring, for 1, 2 and 3 workers.
func TestGoldenSamples(t *testing.T) {
	p := newProblem(t, true, 0.1)
	g := p.prior.(*GRF)
	for _, c := range goldenRuns() {
		var lik Likelihood
		if c.lik != nil {
			var err error
			if lik, err = c.lik(p, g); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range []int{1, 2, 3} {
			opt := c.opt
			opt.Workers = w
			res, err := Sample(context.Background(), g, lik, testVE, opt)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := hashSamples(res); got != c.want {
				t.Errorf("%s, %d workers: samples hash %s, want %s", c.name, w, got, c.want)
			}
		}
	}
}

// Chain k of a run with FirstChain f is chain f + k of a run from chain 0,
// so that chains can be split over jobs (or over lens draws, one sampler
// per draw) and put together again.
func TestFirstChainSplitsRun(t *testing.T) {
	p := newProblem(t, true, 0.1)
	lik, err := NewConvolved(p.op, p.y, p.sn, nil, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{SamplerEM, SamplerPC} {
		all, err := Sample(context.Background(), p.prior, lik, testVE, Options{Seed: 5, Chains: 8, Steps: 15, Sampler: s, Denoise: true})
		if err != nil {
			t.Fatal(err)
		}
		part, err := Sample(context.Background(), p.prior, lik, testVE, Options{Seed: 5, FirstChain: 3, Chains: 4, Steps: 15, Sampler: s, Denoise: true, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !equalSamples(part.Samples, all.Samples[3:7]) {
			t.Errorf("%s: chains 3…6 of a run from chain 0 differ from a run with FirstChain 3", s)
		}
		if equalSamples(part.Samples, all.Samples[:4]) {
			t.Errorf("%s: FirstChain 3 gives the chains of FirstChain 0", s)
		}
	}
}

// No update rule allocates: the predictor, corrector and Tweedie passes
// with the projected likelihood, with and without the prior's Jacobian,
// on one and on two workers.
func TestRulesDoNotAllocate(t *testing.T) {
	p := newProblem(t, true, 0.1)
	g := p.prior.(*GRF)
	lik, err := NewProjected(p.op, p.y, p.sn, nil, g, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	for _, jac := range []bool{false, true} {
		for _, w := range []int{1, 2} {
			s, err := newSampler(g, lik, testVE, Options{Chains: 4, Workers: w, Steps: 100, Sampler: SamplerPC, Denoise: true, PriorJacobian: jac})
			if err != nil {
				t.Fatal(err)
			}
			s.init()
			s.start()
			i := 0
			if a := testing.AllocsPerRun(10, func() { s.step(i); i++ }); a != 0 {
				t.Errorf("jacobian=%v, %d workers: step allocates %v times", jac, w, a)
			}
			if a := testing.AllocsPerRun(5, func() { s.denoise() }); a != 0 {
				t.Errorf("jacobian=%v, %d workers: denoise allocates %v times", jac, w, a)
			}
			s.stop()
		}
	}
}
