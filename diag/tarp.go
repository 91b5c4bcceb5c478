package diag

import (
	"fmt"
	"math"
	"math/rand/v2"
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
	// Seed makes the reference draws and the bootstrap reproducible.
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
	for j := range J {
		dt := dist2(truths[j], refs[j])
		c := 0
		for _, s := range samples[j] {
			if dist2(s, refs[j]) < dt {
				c++
			}
		}
		f[j] = float64(c) / float64(len(samples[j]))
	}

	res := &TARPResult{
		Alpha:      make([]float64, na),
		ECP:        make([]float64, na),
		Sigma:      make([]float64, na),
		F:          f,
		References: refs,
	}
	for a := range na {
		res.Alpha[a] = float64(a) / float64(na-1)
	}
	ecp(res.ECP, res.Alpha, f, nil)
	for a, al := range res.Alpha {
		res.Sigma[a] = math.Sqrt(al * (1 - al) / float64(J))
		if dev := math.Abs(res.ECP[a] - al); dev > res.MaxDev {
			res.MaxDev, res.AtAlpha = dev, al
		}
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
