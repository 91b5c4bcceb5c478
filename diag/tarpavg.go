package diag

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// TARPAvgOptions configures TARPAveraged.
type TARPAvgOptions struct {
	// References is the number R of reference points per simulation (0:
	// 64). NumAlpha is as in TARPOptions (0: 101).
	References, NumAlpha int
	// Permutations is the number of exchangeability draws of the null
	// distribution (0: 2000; negative: none).
	Permutations int
	// Seed makes the references, the randomised ranks and the null draws
	// reproducible.
	Seed uint64
}

// TARPAvgResult is the expected-coverage curve of TARPAveraged with its
// null distribution.
type TARPAvgResult struct {
	// Alpha, ECP, MaxDev and AtAlpha are as in TARPResult, ECP averaged
	// over the R references of every simulation.
	Alpha   []float64 `json:"alpha"`
	ECP     []float64 `json:"ecp"`
	MaxDev  float64   `json:"max_abs_dev"`
	AtAlpha float64   `json:"max_dev_alpha"`
	// References is R; Permutations the number of null draws.
	References   int `json:"references_per_lens"`
	Permutations int `json:"null_permutations"`
	// NullSigma is the standard deviation of ECP(α) over the null draws
	// (the Monte Carlo band of a calibrated sampler with these very
	// samples); NullMedian, Null95 and PValue are the median, the 0.95
	// quantile and the p-value (1 + #{draws ≥ MaxDev})/(1 + draws) of
	// MaxDev under the null. NaN without null draws.
	NullSigma  []float64 `json:"null_sigma"`
	NullMedian float64   `json:"null_median"`
	Null95     float64   `json:"null_95"`
	PValue     float64   `json:"p_value"`
}

// TARPAveraged is TARP (Lemos et al. 2023) with R reference points per
// simulation instead of one, and a null distribution built from the
// samples themselves. ECP(α) is an expectation over simulations and
// reference points; one reference per simulation estimates it with the
// reference's randomness on top of the simulations', which at J ≈ 100 makes
// max|ECP − α| of an exact sampler ≈ 0.08 and hides deviations below that.
// Averaging the indicator 1[f_jr < α] over R references per simulation
// removes most of the reference noise, so the curve approaches the
// population ECP at the rate the simulations allow.
//
// The averaged indicators are correlated within a simulation, so the
// uniform null of TARP no longer applies. Instead: given the data, a
// calibrated posterior makes the truth and the K samples of a simulation
// K+1 exchangeable draws. Every part of the construction is symmetric in
// them — the per-dimension standardisation (mean and standard deviation of
// all truths and samples pooled), the box the references are drawn from
// (that of all truths and samples), the distances — except which member is
// called the truth. Re-labelling, independently in every simulation, a
// uniformly chosen member as the truth and recomputing the curve therefore
// draws from the exact conditional null distribution of any statistic of
// it (a permutation test); with the distances ‖m − r‖ of every member to
// every reference computed once, each draw costs J·R·(K+1) comparisons.
//
// Ranks are randomised as in TARPOptions.Randomize, f_jr = (c_jr +
// U_jr(e_jr + 1))/(K + 1). All simulations need the same K ≥ 1 and
// dimension; non-finite values are refused.
func TARPAveraged(samples [][][]float64, truths [][]float64, opt TARPAvgOptions) (*TARPAvgResult, error) {
	k, err := checkRankInput("TARPAveraged", samples, truths, nil, 1)
	if err != nil {
		return nil, err
	}
	J, d := len(truths), len(truths[0])
	if d == 0 {
		return nil, fmt.Errorf("diag: TARPAveraged: truths[0] is empty")
	}
	for j := range J {
		if len(truths[j]) != d {
			return nil, fmt.Errorf("diag: TARPAveraged: truths[%d] has dimension %d, want %d", j, len(truths[j]), d)
		}
	}
	R, na, perms := opt.References, opt.NumAlpha, opt.Permutations
	if R == 0 {
		R = 64
	}
	if na == 0 {
		na = 101
	}
	if perms == 0 {
		perms = 2000
	}
	if R < 1 || na < 2 {
		return nil, fmt.Errorf("diag: TARPAveraged: References = %d and NumAlpha = %d, want ≥ 1 and ≥ 2", opt.References, opt.NumAlpha)
	}
	perms = max(perms, 0)
	M := k + 1
	member := func(j, m int) []float64 { // member 0 is the truth
		if m == 0 {
			return truths[j]
		}
		return samples[j][m-1]
	}
	// Standardisation and box from all members: symmetric in them.
	acc := NewAccumulator(d)
	lo, hi := make([]float64, d), make([]float64, d)
	for i := range d {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
	}
	for j := range J {
		for m := range M {
			v := member(j, m)
			for i, x := range v {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("diag: TARPAveraged: simulation %d member %d (0 = truth) has a non-finite value at %d", j, m, i)
				}
				lo[i], hi[i] = math.Min(lo[i], x), math.Max(hi[i], x)
			}
			acc.Add(v)
		}
	}
	shift, scale := acc.Mean(nil), acc.Std(nil)
	for i, s := range scale {
		if !(s > 0) {
			scale[i] = 1
		}
	}
	// dist[(j·R + r)·M + m] = squared standardised distance of member m of
	// simulation j to its reference r.
	rng := rand.New(rand.NewPCG(opt.Seed, 0x3c6e_f372_fe94_f82b))
	dist := make([]float64, J*R*M)
	ref := make([]float64, d)
	for j := range J {
		for r := range R {
			for i := range ref {
				ref[i] = (lo[i] + (hi[i]-lo[i])*rng.Float64() - shift[i]) / scale[i]
			}
			for m := range M {
				var s float64
				for i, x := range member(j, m) {
					t := (x-shift[i])/scale[i] - ref[i]
					s += t * t
				}
				dist[(j*R+r)*M+m] = s
			}
		}
	}

	alpha := make([]float64, na)
	for a := range alpha {
		alpha[a] = float64(a) / float64(na-1)
	}
	// curve fills e with ECP(α) for the labelling truthOf[j] (member index).
	urng := rand.New(rand.NewPCG(opt.Seed, 0xa409_3822_299f_31d0))
	cnt := make([]float64, na)
	curve := func(e []float64, truthOf []int) {
		clear(cnt)
		for j := range J {
			t := truthOf[j]
			for r := range R {
				row := dist[(j*R+r)*M : (j*R+r+1)*M]
				dt := row[t]
				c, eq := 0, 0
				for m, dm := range row {
					if m == t {
						continue
					}
					switch {
					case dm < dt:
						c++
					case dm == dt:
						eq++
					}
				}
				f := (float64(c) + urng.Float64()*float64(eq+1)) / float64(M)
				// 1[f < α] for every α on the grid: α_a > f ⇔ a > f·(na−1).
				first := int(math.Floor(f*float64(na-1))) + 1
				if first < na {
					cnt[first]++
				}
			}
		}
		run := 0.0
		for a := range na {
			run += cnt[a]
			e[a] = run / float64(J*R)
		}
	}
	res := &TARPAvgResult{Alpha: alpha, ECP: make([]float64, na), References: R, Permutations: perms,
		NullMedian: math.NaN(), Null95: math.NaN(), PValue: math.NaN()}
	truthOf := make([]int, J)
	curve(res.ECP, truthOf)
	res.MaxDev, res.AtAlpha = maxDev(res.ECP, alpha)
	if perms > 0 {
		prng := rand.New(rand.NewPCG(opt.Seed, 0x1f83_d9ab_fb41_bd6b))
		null := make([]float64, perms)
		e := make([]float64, na)
		sd := NewAccumulator(na)
		n := 0
		for b := range perms {
			for j := range truthOf {
				truthOf[j] = prng.IntN(M)
			}
			curve(e, truthOf)
			sd.Add(e)
			null[b], _ = maxDev(e, alpha)
			if null[b] >= res.MaxDev {
				n++
			}
		}
		res.NullSigma = sd.Std(nil)
		res.NullMedian, res.Null95 = quantile(null, 0.5), quantile(null, 0.95)
		res.PValue = float64(1+n) / float64(1+perms)
	}
	return res, nil
}
