package diag

import (
	"fmt"
	"math"
)

// SpreadSkill returns the ratio of the squared error of the posterior mean
// to the spread of the samples, summed over J simulations:
//
//	R = Σ_j ‖t_j − m̄_j‖² / Σ_j (1 + 1/K_j) s²_j,
//
// with m̄_j the mean of the K_j samples of simulation j and s²_j = Σ_i of
// their unbiased variances (1/(K_j−1) Σ_k (s_ki − m̄_ji)²). If the truth is
// exchangeable with the samples (a calibrated posterior), E‖t − m̄‖² =
// (1 + 1/K) tr Σ and E s² = tr Σ for any posterior, so R → 1 as the sums
// grow; R > 1 means samples that are too close together (over-confident) or
// a systematic offset of the mean, R < 1 an over-dispersed posterior. It is
// the spread–skill ratio of ensemble forecasting, squared. It needs K_j ≥ 2
// and equal lengths; NaN coordinates are skipped.
func SpreadSkill(samples [][][]float64, truths [][]float64) (float64, error) {
	if len(samples) != len(truths) || len(truths) == 0 {
		return math.NaN(), fmt.Errorf("diag: SpreadSkill: %d sample sets for %d truths", len(samples), len(truths))
	}
	var num, den float64
	for j, t := range truths {
		ss := samples[j]
		k := len(ss)
		if k < 2 {
			return math.NaN(), fmt.Errorf("diag: SpreadSkill: simulation %d has %d samples, need at least 2", j, k)
		}
		for q, s := range ss {
			if len(s) != len(t) {
				return math.NaN(), fmt.Errorf("diag: SpreadSkill: simulation %d sample %d has length %d, truth %d", j, q, len(s), len(t))
			}
		}
		fk := float64(k)
	pixels:
		for i, ti := range t {
			if math.IsNaN(ti) {
				continue
			}
			var m float64
			for _, s := range ss {
				if math.IsNaN(s[i]) {
					continue pixels
				}
				m += s[i]
			}
			m /= fk
			var v float64
			for _, s := range ss {
				d := s[i] - m
				v += d * d
			}
			e := ti - m
			num += e * e
			den += (1 + 1/fk) * v / (fk - 1)
		}
	}
	if !(den > 0) {
		return math.NaN(), fmt.Errorf("diag: SpreadSkill: the samples have no spread")
	}
	return num / den, nil
}

// RankBin is the rank statistics of the pixels whose true value lies in
// (Lo, Hi] (Lo = −∞ for the first bin, Hi = +∞ for the last).
type RankBin struct {
	Lo, Hi float64 `json:"-"`
	// LoJSON and HiJSON are Lo and Hi with ±∞ written as null.
	LoJSON *float64 `json:"truth_above"`
	HiJSON *float64 `json:"truth_at_most"`
	// Pixels is the number of (simulation, pixel) pairs in the bin and
	// Fraction their share of all pairs.
	Pixels   int     `json:"pixels"`
	Fraction float64 `json:"fraction"`
	// Hist[r] is the fraction of those pixels where the truth has rank r
	// among the K samples (r samples below it; ties share their ranks
	// equally). Under calibration the histogram of all pixels together is
	// uniform, 1/(K+1); that of one bin need not be (see PixelRanks).
	Hist []float64 `json:"rank_hist"`
	// Bias is the mean of (sample mean − truth) and Spread the mean of the
	// samples' standard deviation (unbiased variance) over the bin; both
	// are zero for an empty bin.
	Bias   float64 `json:"bias"`
	Spread float64 `json:"spread"`
}

// PixelRanks sorts every (simulation, pixel) pair by its true value into
// the bins (−∞, e_0], (e_0, e_1], …, (e_{n−1}, +∞) of the increasing edges
// and returns, per bin, the histogram of the truth's rank among the K
// samples, the mean offset of the sample mean and the mean sample spread.
//
// It locates a miscalibration that a global test such as TARP only
// detects: with real sources whose sky was clipped at zero, for example,
// the bin of exact zeros shows the truth below every sample (Hist[0] near
// 1) and a positive Bias. Binning by the truth conditions on it, so even a
// calibrated posterior can show skewed histograms in the extreme bins
// (the faintest truths tend to sit below the posterior of a pixel, the
// brightest above); the histogram of all pixels together is uniform under
// calibration. All simulations must have the same K ≥ 1; pixels with a NaN
// truth or sample are skipped.
func PixelRanks(samples [][][]float64, truths [][]float64, edges []float64) ([]RankBin, error) {
	k, err := checkRankInput("PixelRanks", samples, truths, edges, 1)
	if err != nil {
		return nil, err
	}
	bins := make([]RankBin, len(edges)+1)
	for b := range bins {
		bins[b].Lo, bins[b].Hi, bins[b].LoJSON, bins[b].HiJSON = binBounds(edges, b)
		bins[b].Hist = make([]float64, k+1)
	}
	total := 0
	fk := float64(k)
	for j, t := range truths {
	pixels:
		for i, ti := range t {
			if math.IsNaN(ti) {
				continue
			}
			below, equal := 0, 0
			var m, m2 float64
			for _, s := range samples[j] {
				v := s[i]
				switch {
				case math.IsNaN(v):
					continue pixels
				case v < ti:
					below++
				case v == ti:
					equal++
				}
				m += v
				m2 += v * v
			}
			b := 0
			for b < len(edges) && ti > edges[b] {
				b++
			}
			bin := &bins[b]
			w := 1 / float64(equal+1)
			for r := below; r <= below+equal; r++ {
				bin.Hist[r] += w
			}
			m /= fk
			bin.Bias += m - ti
			if k > 1 {
				bin.Spread += math.Sqrt(math.Max(0, (m2-fk*m*m)/(fk-1)))
			}
			bin.Pixels++
			total++
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("diag: PixelRanks: no finite pixels")
	}
	for b := range bins {
		bin := &bins[b]
		bin.Fraction = float64(bin.Pixels) / float64(total)
		if bin.Pixels == 0 {
			continue
		}
		n := float64(bin.Pixels)
		for r := range bin.Hist {
			bin.Hist[r] /= n
		}
		bin.Bias /= n
		bin.Spread /= n
	}
	return bins, nil
}

// checkRankInput validates the arguments of PixelRanks and HeldOutRanks:
// as many sample sets as truths, increasing edges, the same K ≥ minK
// samples everywhere, each as long as its truth. It returns K.
func checkRankInput(fn string, samples [][][]float64, truths [][]float64, edges []float64, minK int) (int, error) {
	if len(samples) != len(truths) || len(truths) == 0 {
		return 0, fmt.Errorf("diag: %s: %d sample sets for %d truths", fn, len(samples), len(truths))
	}
	for i := 1; i < len(edges); i++ {
		if !(edges[i] > edges[i-1]) {
			return 0, fmt.Errorf("diag: %s: edges must increase, got %v", fn, edges)
		}
	}
	k := len(samples[0])
	for j, t := range truths {
		if len(samples[j]) != k || k < minK {
			return 0, fmt.Errorf("diag: %s: simulation %d has %d samples, simulation 0 has %d (need the same K ≥ %d)", fn, j, len(samples[j]), k, minK)
		}
		for q, s := range samples[j] {
			if len(s) != len(t) {
				return 0, fmt.Errorf("diag: %s: simulation %d sample %d has length %d, truth %d", fn, j, q, len(s), len(t))
			}
		}
	}
	return k, nil
}

// binBounds returns bin b of the edges, (lo, hi], with lo = −∞ for the
// first bin and hi = +∞ for the last, and the same as pointers for JSON
// (copies, nil for ±∞).
func binBounds(edges []float64, b int) (lo, hi float64, loJSON, hiJSON *float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if b > 0 {
		lo = edges[b-1]
		loJSON = new(float64)
		*loJSON = lo
	}
	if b < len(edges) {
		hi = edges[b]
		hiJSON = new(float64)
		*hiJSON = hi
	}
	return lo, hi, loJSON, hiJSON
}
