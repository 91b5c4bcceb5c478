package diag

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gaussianSims draws J truths θ ~ N(0, I_d), observations y = θ + n with
// n ~ N(0, I_d), and K samples from N(y/2 + bias, (widen² / 2) I). With
// widen = 1 and bias = 0 this is the exact posterior.
func gaussianSims(seed uint64, J, K, d int, widen, bias float64) ([][][]float64, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	truths := make([][]float64, J)
	samples := make([][][]float64, J)
	sd := widen * math.Sqrt(0.5)
	for j := range J {
		th := make([]float64, d)
		y := make([]float64, d)
		for i := range d {
			th[i] = rng.NormFloat64()
			y[i] = th[i] + rng.NormFloat64()
		}
		truths[j] = th
		samples[j] = make([][]float64, K)
		for k := range K {
			s := make([]float64, d)
			for i := range d {
				s[i] = y[i]/2 + bias + sd*rng.NormFloat64()
			}
			samples[j][k] = s
		}
	}
	return samples, truths
}

func at(r *TARPResult, alpha float64) float64 {
	return r.ECP[int(math.Round(alpha*float64(len(r.Alpha)-1)))]
}

func TestTARPCalibrated(t *testing.T) {
	const J, K = 400, 200
	for _, d := range []int{1, 16} {
		s, th := gaussianSims(5, J, K, d, 1, 0)
		res, err := TARP(s, th, TARPOptions{Seed: 1, Bootstrap: 200})
		if err != nil {
			t.Fatal(err)
		}
		// 3 MC standard deviations at α = 1/2 plus the 1/(K+1) bias of a
		// K-sample rank.
		lim := 3*0.5/math.Sqrt(J) + 1.0/(K+1)
		t.Logf("d=%d calibrated: max|ECP−α| = %.4f at α=%.2f (limit %.4f); boot σ(0.5)=%.4f", d, res.MaxDev, res.AtAlpha, lim, res.BootSigma[50])
		if res.MaxDev > lim {
			t.Errorf("d=%d: calibrated posterior max|ECP−α| = %.4f > %.4f", d, res.MaxDev, lim)
		}
		if b, want := res.BootSigma[50], res.Sigma[50]; math.Abs(b-want) > 0.3*want {
			t.Errorf("d=%d: bootstrap σ(0.5) = %.4f, binomial %.4f", d, b, want)
		}
		if res.ECP[0] != 0 || res.Sigma[50] != 0.5/math.Sqrt(J) {
			t.Errorf("ECP(0) = %g, σ(0.5) = %g", res.ECP[0], res.Sigma[50])
		}
	}
}

// TestTARPMiscalibrated checks the direction of the departures. With
// references far from the posterior compared with its width, ‖s−r‖ −
// ‖θ−r‖ ≈ u·(s−θ) + (‖(s−μ)⊥‖² − ‖(θ−μ)⊥‖²)/(2‖μ−r‖), u the unit vector
// from r to the posterior mean μ. In many dimensions the second, radial
// term dominates: over-dispersed samples lie farther from r than the
// truth, f is small and ECP(α) lies ABOVE the diagonal; under-dispersed
// samples lie closer, f is large and ECP lies BELOW. (In one dimension only
// the first term exists: f = Φ(z·σ_true/σ_post) and the curve is
// S-shaped, symmetric about α = 1/2.)
func TestTARPMiscalibrated(t *testing.T) {
	const J, K, d = 300, 100, 16
	over, th := gaussianSims(7, J, K, d, 2, 0)
	ro, _ := TARP(over, th, TARPOptions{Seed: 2})
	under, th2 := gaussianSims(7, J, K, d, 0.5, 0)
	ru, _ := TARP(under, th2, TARPOptions{Seed: 2})
	biased, th3 := gaussianSims(7, J, K, d, 1, 1)
	rb, _ := TARP(biased, th3, TARPOptions{Seed: 2})
	sd := 0.5 / math.Sqrt(J)
	t.Logf("over: ECP(.5)=%.3f max %.3f; under: ECP(.5)=%.3f max %.3f; biased: max %.3f at %.2f",
		at(ro, 0.5), ro.MaxDev, at(ru, 0.5), ru.MaxDev, rb.MaxDev, rb.AtAlpha)
	if at(ro, 0.5) < 0.5+5*sd {
		t.Errorf("over-dispersed ECP(0.5) = %.3f, want well above 0.5", at(ro, 0.5))
	}
	if at(ru, 0.5) > 0.5-5*sd {
		t.Errorf("under-dispersed ECP(0.5) = %.3f, want well below 0.5", at(ru, 0.5))
	}
	if rb.MaxDev < 5*sd {
		t.Errorf("biased posterior max|ECP−α| = %.3f, want > %.3f", rb.MaxDev, 5*sd)
	}
	// One dimension: S-shape, over-dispersed below the diagonal at α=0.25
	// and above at α=0.75.
	o1, t1 := gaussianSims(8, J, K, 1, 2, 0)
	r1, _ := TARP(o1, t1, TARPOptions{Seed: 3})
	if !(at(r1, 0.25) < 0.25-3*sd && at(r1, 0.75) > 0.75+3*sd) {
		t.Errorf("1-D over-dispersed ECP(0.25)=%.3f ECP(0.75)=%.3f, want S-shape", at(r1, 0.25), at(r1, 0.75))
	}
}

func TestTARPDeterministicAndNormalized(t *testing.T) {
	s, th := gaussianSims(9, 50, 40, 3, 1, 0)
	a, _ := TARP(s, th, TARPOptions{Seed: 4, Normalize: true})
	b, _ := TARP(s, th, TARPOptions{Seed: 4, Normalize: true})
	for j := range a.F {
		if a.F[j] != b.F[j] {
			t.Fatalf("same seed gave f[%d] = %g and %g", j, a.F[j], b.F[j])
		}
	}
	c, _ := TARP(s, th, TARPOptions{Seed: 5})
	if c.References[0][0] == a.References[0][0] {
		t.Error("different seeds gave the same reference point")
	}
	// A per-dimension affine change of units leaves normalised TARP
	// unchanged (the default reference box transforms with the data).
	sc := []float64{1000, 1, 0.001}
	sh := []float64{5, -3, 0}
	tr := func(v []float64) []float64 {
		o := make([]float64, len(v))
		for i := range v {
			o[i] = sc[i]*v[i] + sh[i]
		}
		return o
	}
	s2 := make([][][]float64, len(s))
	th2 := make([][]float64, len(th))
	for j := range s {
		th2[j] = tr(th[j])
		for _, x := range s[j] {
			s2[j] = append(s2[j], tr(x))
		}
	}
	n2, _ := TARP(s2, th2, TARPOptions{Seed: 4, Normalize: true})
	u2, _ := TARP(s2, th2, TARPOptions{Seed: 4})
	diffU := 0
	for j := range a.F {
		if n2.F[j] != a.F[j] {
			t.Errorf("normalised f[%d] changed with units: %g vs %g", j, n2.F[j], a.F[j])
		}
		if u2.F[j] != a.F[j] {
			diffU++
		}
	}
	if diffU == 0 {
		t.Error("unnormalised TARP is unchanged by a change of units; the test cannot discriminate")
	}
	// Caller-given references are used as given.
	refs := make([][]float64, len(th))
	for j := range refs {
		refs[j] = []float64{100, 100, 100}
	}
	g, _ := TARP(s, th, TARPOptions{References: refs})
	if g.References[3][1] != 100 {
		t.Error("caller references not used")
	}
	if _, err := TARP(s, th[:3], TARPOptions{}); err == nil {
		t.Error("mismatched J accepted")
	}
	if _, err := TARP(s, th, TARPOptions{References: refs[:2]}); err == nil {
		t.Error("short References accepted")
	}
}

// TestTARPRandomizedCalibration: (i) exact posterior with K = 5 samples and
// randomised ranks gives ECP within a few binomial σ of α at every level and
// a p-value that is not small; an over-confident posterior (samples with
// half the posterior spread) gives a large MaxDev and p < 0.01.
func TestTARPRandomizedCalibration(t *testing.T) {
	const J, K, d = 400, 5, 3
	s, th := gaussianSims(11, J, K, d, 1, 0)
	opt := TARPOptions{Seed: 6, Randomize: true, NullDraws: 999}
	res, err := TARP(s, th, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calibrated K=%d: max|ECP−α| = %.4f at α=%.2f; null median %.4f, 95%% %.4f, p = %.3f",
		K, res.MaxDev, res.AtAlpha, res.NullMedian, res.Null95, res.PValue)
	for a, al := range res.Alpha {
		// 4 binomial σ plus one count of slack for the levels near 0 and 1.
		if lim := 4*res.Sigma[a] + 1.0/J; math.Abs(res.ECP[a]-al) > lim {
			t.Errorf("calibrated ECP(%.2f) = %.4f, more than %.4f from α", al, res.ECP[a], lim)
		}
	}
	if res.PValue < 0.05 {
		t.Errorf("calibrated posterior: p = %.3f", res.PValue)
	}
	// Without randomisation the same data show the K-sample staircase: f
	// takes the values c/K and ECP(α) stays at ≈ K/(K+1) for α → 1 (f = 1
	// counts as not covered), a deviation of about 1/(K+1) that the plain
	// null distribution accounts for.
	plain, _ := TARP(s, th, TARPOptions{Seed: 6, NullDraws: 999})
	t.Logf("plain ranks: max|ECP−α| = %.4f at α=%.2f; null median %.4f, 95%% %.4f, p = %.3f",
		plain.MaxDev, plain.AtAlpha, plain.NullMedian, plain.Null95, plain.PValue)
	if plain.MaxDev < 0.5/(K+1) {
		t.Errorf("plain ranks with K=%d: MaxDev = %.4f, expected the staircase ≳ %.3f", K, plain.MaxDev, 1.0/(K+1))
	}
	if plain.PValue < 0.05 {
		t.Errorf("plain ranks judged against their own null: p = %.3f", plain.PValue)
	}
	over, th2 := gaussianSims(12, J, K, d, 0.5, 0)
	bad, err := TARP(over, th2, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("over-confident: max|ECP−α| = %.4f at α=%.2f; p = %.4f", bad.MaxDev, bad.AtAlpha, bad.PValue)
	if bad.MaxDev < 2*bad.Null95 || bad.PValue >= 0.01 {
		t.Errorf("over-confident posterior: MaxDev = %.4f (null 95%% %.4f), p = %.4f; want large and p < 0.01",
			bad.MaxDev, bad.Null95, bad.PValue)
	}
	if bad.PValue != 1.0/1000 {
		t.Errorf("no null draw should reach MaxDev %.3f: p = %g, want 1/1000", bad.MaxDev, bad.PValue)
	}
}

// TestTARPNullScaling: (ii) with randomised ranks f is uniform and MaxDev
// on a fine α grid is the Kolmogorov–Smirnov statistic D_J, whose median is
// ≈ 0.8276/(√J + 0.12 + 0.11/√J) (Stephens' finite-J form of the Kolmogorov
// median 0.8276/√J); medians for J = 100 and 400 differ by ≈ 2.
func TestTARPNullScaling(t *testing.T) {
	alpha := make([]float64, 2001)
	for i := range alpha {
		alpha[i] = float64(i) / float64(len(alpha)-1)
	}
	med := func(J int) float64 {
		ks := make([]int, J)
		for j := range ks {
			ks[j] = 7
		}
		return quantile(NullMaxDev(nil, ks, alpha, true, 3000, rand.New(rand.NewPCG(uint64(J), 1))), 0.5)
	}
	m100, m400 := med(100), med(400)
	kol := 0.8276 / math.Sqrt(100)
	t.Logf("null median J=100: %.4f (Kolmogorov %.4f); J=400: %.4f; ratio %.3f", m100, kol, m400, m100/m400)
	if r := m100 / m400; math.Abs(r-2) > 0.15*2 {
		t.Errorf("median ratio J=100/J=400 = %.3f, want ≈ 2", r)
	}
	if math.Abs(m100-kol) > 0.1*kol {
		t.Errorf("J=100 null median %.4f, Kolmogorov median %.4f", m100, kol)
	}
	// The finite-J form is sharper: within 3 %.
	if st := 0.8276 / (10 + 0.12 + 0.011); math.Abs(m100-st) > 0.03*st {
		t.Errorf("J=100 null median %.4f, Stephens' finite-J median %.4f", m100, st)
	}
}

// TestTARPNullPlainStaircase: (iii) with K = 2 and plain ranks the null
// median of MaxDev is several times the randomised one, and it agrees with
// a direct simulation that runs TARP on data whose truths are exchangeable
// with the samples: the null median m must satisfy P(X ≤ m) ≥ ½ and
// P(X < m) ≤ ½ for the directly simulated MaxDev X, up to 3 binomial σ.
func TestTARPNullPlainStaircase(t *testing.T) {
	const J, K, R = 50, 2, 400
	samples := make([][][]float64, J)
	for j := range samples {
		samples[j] = [][]float64{{1}, {1}}
	}
	truths := make([][]float64, J)
	for j := range truths {
		truths[j] = []float64{0}
	}
	plain, err := TARP(samples, truths, TARPOptions{NullDraws: 2000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	rnd, _ := TARP(samples, truths, TARPOptions{NullDraws: 2000, Seed: 3, Randomize: true})
	t.Logf("J=%d K=%d null median: plain %.4f (95%% %.4f), randomised %.4f (95%% %.4f)", J, K,
		plain.NullMedian, plain.Null95, rnd.NullMedian, rnd.Null95)
	if plain.NullMedian < 2*rnd.NullMedian {
		t.Errorf("plain null median %.4f not much larger than randomised %.4f", plain.NullMedian, rnd.NullMedian)
	}
	// Direct simulation: θ and the K samples i.i.d. N(0, I_2), r fixed.
	rng := rand.New(rand.NewPCG(77, 78))
	refs := make([][]float64, J)
	for j := range refs {
		refs[j] = []float64{0.3, -0.2}
	}
	direct := make([]float64, R)
	for r := range R {
		for j := range J {
			truths[j] = []float64{rng.NormFloat64(), rng.NormFloat64()}
			samples[j] = [][]float64{{rng.NormFloat64(), rng.NormFloat64()}, {rng.NormFloat64(), rng.NormFloat64()}}
		}
		res, err := TARP(samples, truths, TARPOptions{References: refs})
		if err != nil {
			t.Fatal(err)
		}
		direct[r] = res.MaxDev
	}
	check := func(name string, m, q float64) {
		le, lt := 0, 0
		for _, x := range direct {
			if x <= m {
				le++
			}
			if x < m {
				lt++
			}
		}
		tol := 3 * math.Sqrt(q*(1-q)/R)
		t.Logf("%s %.4f: direct P(X ≤ m) = %.3f, P(X < m) = %.3f", name, m, float64(le)/R, float64(lt)/R)
		if float64(le)/R < q-tol || float64(lt)/R > q+tol {
			t.Errorf("%s %.4f inconsistent with direct simulation: P(X ≤ m) = %.3f, P(X < m) = %.3f, want %.2f ± %.3f",
				name, m, float64(le)/R, float64(lt)/R, q, tol)
		}
	}
	check("plain null median", plain.NullMedian, 0.5)
	check("plain null 95%", plain.Null95, 0.95)
}

// TestTARPRandomizeDeterminism: (iv) same Seed ⇒ identical result; another
// Seed ⇒ other U's. The randomised rank keeps the count: c_j =
// ⌊(K+1) f_j⌋ equals the plain K·f_j, and the references (drawn from
// their own stream) do not depend on Randomize or NullDraws.
func TestTARPRandomizeDeterminism(t *testing.T) {
	const J, K = 60, 6
	s, th := gaussianSims(13, J, K, 3, 1, 0)
	opt := TARPOptions{Seed: 8, Randomize: true, NullDraws: 200, Bootstrap: 20}
	a, _ := TARP(s, th, opt)
	b, _ := TARP(s, th, opt)
	opt.Seed = 9
	c, _ := TARP(s, th, opt)
	plain, _ := TARP(s, th, TARPOptions{Seed: 8})
	if a.NullMedian != b.NullMedian || a.Null95 != b.Null95 || a.PValue != b.PValue || a.MaxDev != b.MaxDev {
		t.Errorf("same seed: null %v/%v, p %v/%v", a.NullMedian, b.NullMedian, a.PValue, b.PValue)
	}
	same := 0
	for j := range J {
		if a.F[j] != b.F[j] || a.BootSigma[j%len(a.BootSigma)] != b.BootSigma[j%len(b.BootSigma)] {
			t.Fatalf("same seed gave f[%d] = %g and %g", j, a.F[j], b.F[j])
		}
		if a.F[j] == c.F[j] {
			same++
		}
		if plain.References[j][0] != a.References[j][0] {
			t.Fatalf("reference %d depends on Randomize", j)
		}
		cnt := plain.F[j] * K
		if got := math.Floor(a.F[j] * (K + 1)); got != math.Round(cnt) {
			t.Errorf("f[%d] = %g: ⌊(K+1)f⌋ = %g, plain count %g", j, a.F[j], got, cnt)
		}
	}
	if same != 0 {
		t.Errorf("seeds 8 and 9 share %d of %d randomised ranks", same, J)
	}
	if a.NullMedian == c.NullMedian && a.PValue == c.PValue && a.Null95 == c.Null95 {
		t.Error("null distribution does not depend on the seed")
	}
	// Ties are split uniformly: every sample at the truth's distance makes
	// f uniform on [0, 1] as a whole, f = U·(K+1)/(K+1).
	tie := [][][]float64{{{1}, {1}, {1}}}
	r, _ := TARP(tie, [][]float64{{1}}, TARPOptions{Randomize: true, References: [][]float64{{0}}, Seed: 1})
	u := rand.New(rand.NewPCG(1, tarpStreamRank)).Float64()
	if r.F[0] != u {
		t.Errorf("all-tied f = %g, want the stream's first U %g", r.F[0], u)
	}
	if _, err := TARP(s, th, TARPOptions{NullDraws: -1}); err == nil {
		t.Error("NullDraws = -1 accepted")
	}
	if q := quantile([]float64{4, 1, 3, 2}, 0.5); q != 2 {
		t.Errorf("lower median of 1..4 = %g, want 2", q)
	}
}
