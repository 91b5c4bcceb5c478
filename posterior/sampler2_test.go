package posterior

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func equalSamples(a, b [][]float64) bool {
	for k := range a {
		for i := range a[k] {
			if math.Float64bits(a[k][i]) != math.Float64bits(b[k][i]) {
				return false
			}
		}
	}
	return true
}

// Chain k of a seed is bitwise the same whatever the batch size, the number
// of workers and GOMAXPROCS.
func TestDeterministicAcrossBatchAndProcs(t *testing.T) {
	p := newProblem(t, true, 0.1)
	lik, err := NewConvolved(p.op, p.y, p.sn, nil, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	run := func(chains, workers, procs int, sampler string) [][]float64 {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		res, err := Sample(context.Background(), p.prior, lik, testVE, Options{Seed: 9, Chains: chains, Workers: workers, Steps: 25, Sampler: sampler})
		if err != nil {
			t.Fatal(err)
		}
		return res.Samples
	}
	for _, s := range []string{SamplerEM, SamplerPC} {
		a := run(3, 1, 1, s)
		b := run(7, 3, 2, s)
		c := run(5, 0, 4, s)
		if !equalSamples(a, b[:3]) || !equalSamples(a, c[:3]) {
			t.Errorf("%s: chains differ between batch sizes / workers / GOMAXPROCS", s)
		}
		if equalSamples(a[:1], a[1:2]) {
			t.Errorf("%s: chains 0 and 1 are identical", s)
		}
	}
}

func TestResumeIsBitIdentical(t *testing.T) {
	p := newProblem(t, false, 0.1)
	lik, _ := NewDiag(p.op, p.y, p.sn, nil, testVE.Sigma)
	dir := t.TempDir()
	ck := filepath.Join(dir, "run.ckpt")
	base := Options{Seed: 4, Chains: 6, Steps: 30, Sampler: SamplerPC, Denoise: true}
	full, err := Sample(context.Background(), p.prior, lik, testVE, base)
	if err != nil {
		t.Fatal(err)
	}
	opt := base
	opt.CheckpointPath, opt.StopAfter, opt.CheckpointSteps = ck, 13, 5
	if _, err := Sample(context.Background(), p.prior, lik, testVE, opt); !errors.Is(err, ErrStopped) {
		t.Fatalf("StopAfter: got %v, want ErrStopped", err)
	}
	opt.StopAfter = 0
	res, err := Resume(context.Background(), p.prior, lik, testVE, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !equalSamples(full.Samples, res.Samples) || res.NFE != full.NFE {
		t.Errorf("resumed run differs from the uninterrupted one (NFE %d vs %d)", res.NFE, full.NFE)
	}
	// Cancellation writes a checkpoint that resumes to the same samples.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Sample(ctx, p.prior, lik, testVE, opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: got %v", err)
	}
	res, err = Resume(context.Background(), p.prior, lik, testVE, opt)
	if err != nil || !equalSamples(full.Samples, res.Samples) {
		t.Errorf("resume after cancel differs (err %v)", err)
	}
	// Different settings are refused with the differing field named.
	bad := opt
	bad.Seed = 5
	if _, err := Resume(context.Background(), p.prior, lik, testVE, bad); err == nil || !strings.Contains(err.Error(), "Seed") {
		t.Errorf("resume with another seed: %v", err)
	}
	other, _ := NewConvolved(p.op, p.y, p.sn, nil, testVE.Sigma)
	if _, err := Resume(context.Background(), p.prior, other, testVE, opt); err == nil || !strings.Contains(err.Error(), "Likelihood") {
		t.Errorf("resume with another likelihood: %v", err)
	}
	// A corrupted file is detected.
	data, _ := os.ReadFile(ck)
	data[len(data)/2] ^= 1
	os.WriteFile(ck, data, 0o644)
	if _, err := Resume(context.Background(), p.prior, lik, testVE, opt); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupted checkpoint: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left behind: %v", m)
	}
}

// PC with the exact likelihood must also sample the exact posterior (mean
// χ² test at false-alarm 1e-3; variance ratio within 4 s.e. + 3%).
func TestPCMatchesExactPosterior(t *testing.T) {
	p := newProblem(t, false, 0.1)
	res, err := Sample(context.Background(), p.prior, p.exact, testVE, Options{Seed: 5, Chains: 600, Sampler: SamplerPC})
	if err != nil {
		t.Fatal(err)
	}
	st := computeStats(t, res.Samples, p.inv.Mean, p.inv.Cov)
	t.Logf("PC: steps %d NFE %d χ²=%.1f (crit %.1f) var ratio %.4f ± %.4f", res.Steps, res.NFE, st.chi2, st.chi2Crit, st.varRatio, st.varSE)
	if res.NFE != 2*res.Steps-1 {
		t.Errorf("NFE = %d, want %d (one corrector per step but the last)", res.NFE, 2*res.Steps-1)
	}
	if st.chi2 > st.chi2Crit || math.Abs(st.varRatio-1) > 4*st.varSE+0.03 {
		t.Error("PC samples do not match the exact posterior")
	}
}

// Tweedie at a large t_end: x ~ N(μ, Σ+σ²I) approximately, and the denoised
// x + σ² s(x) = μ + Σ(Σ+σ²I)⁻¹(x−μ) has mean μ_post and covariance
// Σ(Σ+σ²I)⁻¹Σ. We test the denoised mean (χ², false-alarm 1e-3) against
// that covariance, and that without denoising the variance is inflated.
func TestTweedieDenoisedMean(t *testing.T) {
	p := newProblem(t, false, 0.1)
	eps := 0.55
	sg := testVE.Sigma(eps)
	opt := Options{Seed: 6, Chains: 800, Eps: eps, Steps: 200, Denoise: true}
	res, err := Sample(context.Background(), p.prior, p.exact, testVE, opt)
	if err != nil {
		t.Fatal(err)
	}
	n := len(p.inv.Mean)
	a := mat.NewSymDense(n, nil)
	a.CopySym(p.inv.Cov)
	for i := 0; i < n; i++ {
		a.SetSym(i, i, a.At(i, i)+sg*sg)
	}
	var ch mat.Cholesky
	ch.Factorize(a)
	var x, cd mat.Dense
	ch.SolveTo(&x, p.inv.Cov)
	cd.Mul(p.inv.Cov, &x)
	cds := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			cds.SetSym(i, j, 0.5*(cd.At(i, j)+cd.At(j, i)))
		}
	}
	st := computeStats(t, res.Samples, p.inv.Mean, cds)
	t.Logf("Tweedie σ(t_end)=%.3f: χ²=%.1f (crit %.1f) var ratio vs Σ(Σ+σ²)⁻¹Σ %.4f ± %.4f", sg, st.chi2, st.chi2Crit, st.varRatio, st.varSE)
	if st.chi2 > st.chi2Crit || math.Abs(st.varRatio-1) > 4*st.varSE+0.05 {
		t.Error("Tweedie-denoised samples do not match the Gaussian prediction")
	}
	opt.Denoise = false
	raw, _ := Sample(context.Background(), p.prior, p.exact, testVE, opt)
	rs := computeStats(t, raw.Samples, p.inv.Mean, p.inv.Cov)
	var want float64
	for i := 0; i < n; i++ {
		want += (p.inv.Cov.At(i, i) + sg*sg) / p.inv.Cov.At(i, i) / float64(n)
	}
	t.Logf("without Tweedie: var ratio to Σ_post %.4f, expected (Σ_ii+σ²)/Σ_ii = %.4f", rs.varRatio, want)
	if want < 1.2 || math.Abs(rs.varRatio-want) > 4*rs.varSE*want+0.05*want {
		t.Errorf("without Tweedie the variance ratio is %.3f, want %.3f", rs.varRatio, want)
	}
}

func TestStepDoesNotAllocate(t *testing.T) {
	p := newProblem(t, false, 0.1)
	lik, _ := NewConvolved(p.op, p.y, p.sn, nil, testVE.Sigma)
	for _, sm := range []string{SamplerEM, SamplerPC} {
		s, err := newSampler(p.prior, lik, testVE, Options{Chains: 8, Workers: 2, Steps: 100, Sampler: sm})
		if err != nil {
			t.Fatal(err)
		}
		s.init()
		s.start()
		i := 0
		if a := testing.AllocsPerRun(20, func() { s.step(i); i++ }); a != 0 {
			t.Errorf("%s: step allocates %v times", sm, a)
		}
		s.stop()
	}
}

// fakeNet returns the exact ε of an isotropic Gaussian N(μ, s²I):
// ε = −σ(x−μ)/(s²+σ²), in float32, and records the batch sizes.
type fakeNet struct {
	mu, s   float64
	out     []float32
	batches []int
}

func (f *fakeNet) Forward(x, sigma []float32, batch int) []float32 {
	f.batches = append(f.batches, batch)
	d := len(x) / batch
	for k := 0; k < batch; k++ {
		sg := float64(sigma[k])
		for i := 0; i < d; i++ {
			f.out[k*d+i] = float32(-sg * (float64(x[k*d+i]) - f.mu) / (f.s*f.s + sg*sg))
		}
	}
	return f.out[:len(x)]
}

func TestNetworkPriorMatchesAnalytic(t *testing.T) {
	n := 16
	net := &fakeNet{mu: 0.5, s: 1.2, out: make([]float32, 3*n)}
	np, err := NewNetworkPrior(net, testVE, n, 3)
	if err != nil {
		t.Fatal(err)
	}
	mu := make([]float64, n)
	for i := range mu {
		mu[i] = 0.5
	}
	iso, _ := NewIsoGaussian(mu, 1.2, testVE.Sigma)
	x := make([]float64, 7*n)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	got, want := make([]float64, 7*n), make([]float64, 7*n)
	for _, tt := range []float64{0.1, 0.6} {
		if err := np.Score(got, x, 7, tt); err != nil {
			t.Fatal(err)
		}
		iso.Score(want, x, 7, tt)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-5*(1+math.Abs(want[i])) {
				t.Fatalf("t=%g pixel %d: network score %g, analytic %g", tt, i, got[i], want[i])
			}
		}
	}
	if len(net.batches) != 6 || net.batches[0] != 3 || net.batches[2] != 1 {
		t.Errorf("chunking of a batch of 7 with maxBatch 3: %v", net.batches)
	}
	net.batches = net.batches[:0:0]
	np.Score(got, x, 7, 0.3)
	nb := make([]int, 0, 1000)
	net.batches = nb
	if a := testing.AllocsPerRun(10, func() { net.batches = nb; np.Score(got, x, 7, 0.3) }); a != 0 {
		t.Errorf("network prior allocates %v times per call", a)
	}
}

// modeNet is a fakeNet that is Differentiable (with an identity Jacobian)
// and records the mode switches NetworkPrior makes.
type modeNet struct {
	fakeNet
	calls []string
}

func (m *modeNet) Backward(dout []float32)                     { copy(m.out, dout) }
func (m *modeNet) InputGrad() []float32                        { return m.out }
func (m *modeNet) ZeroGrad()                                   {}
func (m *modeNet) SetInference(on bool)                        { m.calls = append(m.calls, fmt.Sprint("inference ", on)) }
func (m *modeNet) SetWeightsFixed(on bool)                     { m.calls = append(m.calls, fmt.Sprint("fixed ", on)) }
func (m *modeNet) take() (c string)                            { c, m.calls = strings.Join(m.calls, ", "), nil; return c }
func (m *modeNet) Forward(x, s []float32, batch int) []float32 { return m.fakeNet.Forward(x, s, batch) }

// TestNetworkPriorModes: a network as built is put in inference mode by
// the first Score (not left in its default training mode), in training
// mode with fixed weights by the first ScoreKeep, and each switch happens
// once, not on every call.
func TestNetworkPriorModes(t *testing.T) {
	const n, k = 8, 2
	net := &modeNet{fakeNet: fakeNet{mu: 0.5, s: 1.2, out: make([]float32, k*n)}}
	np, err := NewNetworkPrior(net, testVE, n, k)
	if err != nil {
		t.Fatal(err)
	}
	x, s, v := make([]float64, k*n), make([]float64, k*n), make([]float64, k*n)
	for i := range x {
		x[i], v[i] = math.Cos(float64(i)), math.Sin(float64(i))
	}
	for _, step := range []struct {
		call, want string
	}{
		{"score", "inference true"}, {"score", ""},
		{"keep", "inference false, fixed true"}, {"keep", ""},
		{"score", "inference true"}, {"keep", "inference false, fixed true"},
	} {
		var err error
		if step.call == "score" {
			err = np.Score(s, x, k, 0.3)
		} else if err = np.ScoreKeep(s, x, k, 0.3); err == nil {
			err = np.VJP(s, v, k)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := net.take(); got != step.want {
			t.Fatalf("%s: mode calls %q, want %q", step.call, got, step.want)
		}
	}
	// VJP with the identity Jacobian of modeNet: (∂s/∂x)ᵀ v = v/σ.
	sg := testVE.Sigma(0.3)
	for i := range s {
		if math.Abs(s[i]-float64(float32(v[i]))/sg) > 1e-12*math.Abs(v[i]/sg) {
			t.Fatalf("VJP[%d] = %g, want %g", i, s[i], v[i]/sg)
		}
	}
}
