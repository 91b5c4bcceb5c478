package diag

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// TARPOptions configures TARP.
type TARPOptions struct {
	// NumAlpha is the number of credibility levels α, evenly spaced on
	// [0, 1] including both ends. Zero means 101 (steps of 0.01).
	NumAlpha int
	// References, when not nil, gives the reference point r_j of each
	// simulation (J × d, in the same coordinates as the samples). When nil
	// each r_j is drawn uniformly in the bounding box of all samples and
	// truths pooled over simulations.
	References [][]float64
	// Normalize standardises every dimension by the mean and standard
	// deviation of the samples pooled over simulations before distances
	// are measured (Lemos et al. 2023 recommend it when dimensions have
	// different scales).
	Normalize bool
	// Bootstrap, when positive, is the number of bootstrap resamples of
	// the simulations used for TARPResult.BootSigma.
	Bootstrap int
	// Randomize replaces the count fraction c_j/K_j by the randomised rank
	//
	//	f_j = (c_j + U_j (e_j + 1)) / (K_j + 1),   U_j ~ U(0, 1),
	//
	// where c_j counts the samples strictly closer to r_j than the truth
	// and e_j those at exactly the truth's distance (zero for continuous
	// samples, where f_j = (c_j + U_j)/(K_j + 1)). When the truth is
	// exchangeable with the K_j samples, (c_j, e_j) place the truth at a
	// uniformly random position among K_j + 1 items and f_j is exactly
	// U(0, 1) for every K_j: the staircase of a K-sample rank, with
	// calibrated deviations up to 1/(K+1), disappears. The U_j come from
	// their own seeded stream, one per simulation in the order j.
	Randomize bool
	// NullDraws, when positive, is the number of Monte Carlo draws of
	// MaxDev for a calibrated posterior with the same J, the same K_j per
	// simulation, the same α grid and the same construction of f
	// (Randomize or not); see TARPResult.NullMedian.
	NullDraws int
	// Seed makes the reference draws, the randomised ranks, the bootstrap
	// and the null draws reproducible (each has its own stream derived
	// from Seed, so enabling one does not change the others).
	Seed uint64
}

// TARPResult is the expected-coverage curve of TARP.
type TARPResult struct {
	// Alpha is the grid of credibility levels and ECP the expected coverage
	// probability ECP(α) = (1/J) Σ_j 1[f_j < α] at each level.
	Alpha, ECP []float64
	// Sigma is the binomial Monte Carlo error of ECP for a calibrated
	// estimator, √(α(1−α)/J).
	Sigma []float64
	// BootSigma is the bootstrap standard deviation of ECP over
	// simulations (nil unless TARPOptions.Bootstrap > 0).
	BootSigma []float64
	// MaxDev = max_α |ECP(α) − α| and AtAlpha the α where it is reached.
	MaxDev, AtAlpha float64
	// F holds f_j, the fraction of samples closer to r_j than the truth.
	F []float64
	// References holds the r_j used, in the caller's coordinates.
	References [][]float64
	// Randomized reports whether F holds randomised ranks.
	Randomized bool
	// NullMedian and Null95 are the median and the 0.95 quantile of MaxDev
	// over TARPOptions.NullDraws draws for a calibrated posterior, and
	// PValue = (1 + #{null draws with MaxDev ≥ the observed one}) /
	// (1 + NullDraws). All three are zero when NullDraws is zero.
	NullMedian, Null95, PValue float64
}

// TARP runs the Tests of Accuracy with Random Points of Lemos et al. (2023)
// on J simulations: samples[j] holds K_j posterior samples (each a
// d-vector) for the simulation whose true parameters are truths[j].
// For every simulation
//
//	f_j = (1/K_j) #{k : ‖s_jk − r_j‖ < ‖θ_j − r_j‖}
//
// and ECP(α) is the empirical CDF of f at α. A calibrated posterior makes f
// uniform on [0, 1] and ECP(α) = α.
func TARP(samples [][][]float64, truths [][]float64, opt TARPOptions) (*TARPResult, error) {
	J := len(truths)
	if J == 0 {
		return nil, fmt.Errorf("diag: TARP: no simulations")
	}
	if len(samples) != J {
		return nil, fmt.Errorf("diag: TARP: %d sample sets for %d truths", len(samples), J)
	}
	d := len(truths[0])
	if d == 0 {
		return nil, fmt.Errorf("diag: TARP: truths[0] is empty")
	}
	for j := range J {
		if len(truths[j]) != d {
			return nil, fmt.Errorf("diag: TARP: truths[%d] has dimension %d, want %d", j, len(truths[j]), d)
		}
		if len(samples[j]) == 0 {
			return nil, fmt.Errorf("diag: TARP: simulation %d has no samples", j)
		}
		for k, s := range samples[j] {
			if len(s) != d {
				return nil, fmt.Errorf("diag: TARP: samples[%d][%d] has dimension %d, want %d", j, k, len(s), d)
			}
		}
	}
	if opt.References != nil {
		if len(opt.References) != J {
			return nil, fmt.Errorf("diag: TARP: %d references for %d simulations", len(opt.References), J)
		}
		for j, r := range opt.References {
			if len(r) != d {
				return nil, fmt.Errorf("diag: TARP: References[%d] has dimension %d, want %d", j, len(r), d)
			}
		}
	}
	na := opt.NumAlpha
	if na == 0 {
		na = 101
	}
	if na < 2 {
		return nil, fmt.Errorf("diag: TARP: NumAlpha = %d, want ≥ 2", opt.NumAlpha)
	}
	if opt.Bootstrap < 0 {
		return nil, fmt.Errorf("diag: TARP: Bootstrap = %d, want ≥ 0", opt.Bootstrap)
	}
	if opt.NullDraws < 0 {
		return nil, fmt.Errorf("diag: TARP: NullDraws = %d, want ≥ 0", opt.NullDraws)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x7a27_9e37_79b9_7f4a))

	// Per-dimension affine map u = (v − shift)/scale to working coordinates.
	shift := make([]float64, d)
	scale := make([]float64, d)
	for i := range scale {
		scale[i] = 1
	}
	if opt.Normalize {
		acc := NewAccumulator(d)
		for j := range J {
			for _, s := range samples[j] {
				acc.Add(s)
			}
		}
		acc.Mean(shift)
		acc.Std(scale)
		for i, s := range scale {
			if !(s > 0) {
				scale[i] = 1
			}
		}
	}

	refs := make([][]float64, J)
	if opt.References != nil {
		for j := range J {
			refs[j] = append([]float64(nil), opt.References[j]...)
		}
	} else {
		lo := make([]float64, d)
		hi := make([]float64, d)
		for i := range d {
			lo[i], hi[i] = math.Inf(1), math.Inf(-1)
		}
		widen := func(v []float64) {
			for i, x := range v {
				lo[i] = math.Min(lo[i], x)
				hi[i] = math.Max(hi[i], x)
			}
		}
		for j := range J {
			widen(truths[j])
			for _, s := range samples[j] {
				widen(s)
			}
		}
		for j := range J {
			r := make([]float64, d)
			for i := range r {
				r[i] = lo[i] + (hi[i]-lo[i])*rng.Float64()
			}
			refs[j] = r
		}
	}

	dist2 := func(a, r []float64) float64 {
		var s float64
		for i := range a {
			t := (a[i] - r[i]) / scale[i]
			s += t * t
		}
		return s
	}
	f := make([]float64, J)
	var urng *rand.Rand
	if opt.Randomize {
		urng = rand.New(rand.NewPCG(opt.Seed, tarpStreamRank))
	}
	for j := range J {
		dt := dist2(truths[j], refs[j])
		c, e := 0, 0
		for _, s := range samples[j] {
			switch ds := dist2(s, refs[j]); {
			case ds < dt:
				c++
			case ds == dt:
				e++
			}
		}
		K := len(samples[j])
		if opt.Randomize {
			f[j] = (float64(c) + urng.Float64()*float64(e+1)) / float64(K+1)
		} else {
			f[j] = float64(c) / float64(K)
		}
	}

	res := &TARPResult{
		Alpha:      make([]float64, na),
		ECP:        make([]float64, na),
		Sigma:      make([]float64, na),
		F:          f,
		References: refs,
		Randomized: opt.Randomize,
	}
	for a := range na {
		res.Alpha[a] = float64(a) / float64(na-1)
	}
	ecp(res.ECP, res.Alpha, f, nil)
	for a, al := range res.Alpha {
		res.Sigma[a] = math.Sqrt(al * (1 - al) / float64(J))
	}
	res.MaxDev, res.AtAlpha = maxDev(res.ECP, res.Alpha)
	if opt.NullDraws > 0 {
		ks := make([]int, J)
		for j := range J {
			ks[j] = len(samples[j])
		}
		nrng := rand.New(rand.NewPCG(opt.Seed, tarpStreamNull))
		null := NullMaxDev(nil, ks, res.Alpha, opt.Randomize, opt.NullDraws, nrng)
		res.NullMedian = quantile(null, 0.5)
		res.Null95 = quantile(null, 0.95)
		n := 0
		for _, v := range null {
			if v >= res.MaxDev {
				n++
			}
		}
		res.PValue = float64(1+n) / float64(1+len(null))
	}
	if opt.Bootstrap > 0 {
		idx := make([]int, J)
		cur := make([]float64, na)
		acc := NewAccumulator(na)
		for range opt.Bootstrap {
			for j := range idx {
				idx[j] = rng.IntN(J)
			}
			ecp(cur, res.Alpha, f, idx)
			acc.Add(cur)
		}
		res.BootSigma = acc.Std(nil)
	}
	return res, nil
}

// Stream identifiers of the PCG generators (the references and the
// bootstrap share the first, as before randomised ranks existed).
const (
	tarpStreamRank = 0x52a1_4b0c_dd5e_11f3
	tarpStreamNull = 0x9e1c_7733_0b2d_a5c9
)

// maxDev returns max_a |ecp[a] − α_a| and the first α where it is reached.
func maxDev(ecp, alpha []float64) (dev, at float64) {
	for a, al := range alpha {
		if d := math.Abs(ecp[a] - al); d > dev {
			dev, at = d, al
		}
	}
	return dev, at
}

// NullMaxDev draws MaxDev = max_α |ECP(α) − α| n times for a calibrated
// posterior: len(ks) simulations, simulation j with ks[j] samples, ECP
// evaluated on the levels alpha exactly as TARP does. With randomize each
// f_j ~ U(0, 1); otherwise c_j is uniform on {0, …, K_j} (the rank of a
// truth exchangeable with its samples) and f_j = c_j/K_j. The draws are
// appended to dst in order and returned; rng supplies all randomness.
func NullMaxDev(dst []float64, ks []int, alpha []float64, randomize bool, n int, rng *rand.Rand) []float64 {
	J := len(ks)
	f := make([]float64, J)
	e := make([]float64, len(alpha))
	for range n {
		for j, k := range ks {
			if randomize {
				f[j] = rng.Float64()
			} else {
				f[j] = float64(rng.IntN(k+1)) / float64(k)
			}
		}
		slices.Sort(f)
		// ECP(α) = #{f_j < α}/J for increasing α by one merge pass.
		i := 0
		for a, al := range alpha {
			for i < J && f[i] < al {
				i++
			}
			e[a] = float64(i) / float64(J)
		}
		d, _ := maxDev(e, alpha)
		dst = append(dst, d)
	}
	return dst
}

// quantile returns the lower empirical q-quantile of x, the order
// statistic x_(⌈qn⌉) (x_(1) for q = 0), without modifying x.
func quantile(x []float64, q float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// ecp sets dst[a] = mean_j 1[f_{idx_j} < α_a] (idx nil: all simulations).
func ecp(dst, alpha, f []float64, idx []int) {
	J := len(f)
	for a, al := range alpha {
		c := 0
		for j := range J {
			fj := f[j]
			if idx != nil {
				fj = f[idx[j]]
			}
			if fj < al {
				c++
			}
		}
		dst[a] = float64(c) / float64(J)
	}
}
