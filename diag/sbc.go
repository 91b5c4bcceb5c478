package diag

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// HeldOutBin is the rank statistics of the pixels whose held-out sample
// value lies in (Lo, Hi] (Lo = −∞ for the first bin, Hi = +∞ for the last);
// see HeldOutRanks.
type HeldOutBin struct {
	Lo, Hi float64 `json:"-"`
	// LoJSON and HiJSON are Lo and Hi with ±∞ written as null.
	LoJSON *float64 `json:"held_out_above"`
	HiJSON *float64 `json:"held_out_at_most"`
	// Pixels is the number of (simulation, pixel) pairs in the bin and
	// Fraction their share of all pairs.
	Pixels   int     `json:"pixels"`
	Fraction float64 `json:"fraction"`
	// Hist[r] is the fraction of those pixels where the truth has rank r
	// among the K−1 ranked samples (ties share their ranks equally); it is
	// uniform, 1/K, under calibration in every bin.
	Hist []float64 `json:"rank_hist"`
	// Outside is Hist[0] + Hist[K−1], the fraction of pixels whose truth
	// lies outside the range of the ranked samples (calibrated: 2/K).
	Outside float64 `json:"outside"`
	// SpreadSkill is SpreadSkill's ratio restricted to the bin, computed
	// from the K−1 ranked samples (NaN when K < 3).
	SpreadSkill float64 `json:"spread_skill"`
}

// HeldOutRanks is a per-pixel calibration test that, unlike PixelRanks,
// stays exact inside every bin. Sample 0 of each simulation is held out
// and only used to choose the bin of a pixel (its value there); the truth
// is ranked among samples 1…K−1. Given the data, a calibrated posterior
// makes the truth and the K samples independent draws of the same
// distribution, so conditioning on sample 0 leaves the truth exchangeable
// with samples 1…K−1 and every bin's histogram is uniform, 1/K per rank —
// whereas binning by the truth itself (PixelRanks) skews the extreme bins
// even for an exact sampler (regression to the mean). A U-shaped
// histogram (truth outside the samples' range too often) in a bin means
// over-confident samples at that brightness, a ∩-shape over-dispersed
// ones, a slope a bias. All simulations must have the same K ≥ 2; pixels
// with a NaN truth or sample are skipped.
func HeldOutRanks(samples [][][]float64, truths [][]float64, edges []float64) ([]HeldOutBin, error) {
	k, err := checkRankInput("HeldOutRanks", samples, truths, edges, 2)
	if err != nil {
		return nil, err
	}
	bins := make([]HeldOutBin, len(edges)+1)
	num := make([]float64, len(bins))
	den := make([]float64, len(bins))
	for b := range bins {
		bins[b].Lo, bins[b].Hi, bins[b].LoJSON, bins[b].HiJSON = binBounds(edges, b)
		bins[b].Hist = make([]float64, k)
	}
	m := float64(k - 1) // ranked samples
	total := 0
	for j, t := range truths {
		ss := samples[j]
	pixels:
		for i, ti := range t {
			if math.IsNaN(ti) || math.IsNaN(ss[0][i]) {
				continue
			}
			below, equal := 0, 0
			var mean, m2 float64
			for _, s := range ss[1:] {
				v := s[i]
				switch {
				case math.IsNaN(v):
					continue pixels
				case v < ti:
					below++
				case v == ti:
					equal++
				}
				mean += v
				m2 += v * v
			}
			b := 0
			for b < len(edges) && ss[0][i] > edges[b] {
				b++
			}
			bin := &bins[b]
			w := 1 / float64(equal+1)
			for r := below; r <= below+equal; r++ {
				bin.Hist[r] += w
			}
			mean /= m
			if k > 2 {
				e := ti - mean
				num[b] += e * e
				den[b] += (1 + 1/m) * math.Max(0, m2-m*mean*mean) / (m - 1)
			}
			bin.Pixels++
			total++
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("diag: HeldOutRanks: no finite pixels")
	}
	for b := range bins {
		bin := &bins[b]
		bin.Fraction = float64(bin.Pixels) / float64(total)
		bin.SpreadSkill = math.NaN()
		if bin.Pixels == 0 {
			continue
		}
		for r := range bin.Hist {
			bin.Hist[r] /= float64(bin.Pixels)
		}
		bin.Outside = bin.Hist[0] + bin.Hist[k-1]
		if k == 2 {
			bin.Outside = 1 // one ranked sample: the truth is always outside its "range"
		}
		if den[b] > 0 {
			bin.SpreadSkill = num[b] / den[b]
		}
	}
	return bins, nil
}

// Statistic is a scalar summary T(x) of an image, used by StatRanks.
type Statistic struct {
	Name string
	F    func(x []float64) float64
}

// ImageStatistics returns the summaries StatRanks uses by default for
// width-pixel-wide row-major images:
//
//	flux      Σ_i x_i
//	energy    Σ_i x_i²
//	gradient  Σ (x_{r,c+1} − x_{r,c})² + Σ (x_{r+1,c} − x_{r,c})²
//	laplacian Σ_{interior} (4x_{r,c} − x_{r±1,c} − x_{r,c±1})²
//	sky noise SkyNoise(x, width, 0): 1.4826 × MAD of the border pixels
//	negative  the fraction of pixels below zero
//
// Gradient and Laplacian weigh the pixel-scale texture of an image; a
// posterior whose samples are smoother than the truth puts the truth above
// every sample for them. Sky noise and the negative fraction weigh the
// image's background: a prior trained on images whose sky keeps its noise
// must give samples with the sky noise of the truth, not an average over
// its training sets'.
func ImageStatistics(width int) []Statistic {
	grad := func(x []float64) float64 {
		var s float64
		h := len(x) / width
		for r := range h {
			row := x[r*width : (r+1)*width]
			for c := 0; c+1 < width; c++ {
				d := row[c+1] - row[c]
				s += d * d
			}
			if r+1 < h {
				for c, v := range row {
					d := x[(r+1)*width+c] - v
					s += d * d
				}
			}
		}
		return s
	}
	lap := func(x []float64) float64 {
		var s float64
		h := len(x) / width
		for r := 1; r+1 < h; r++ {
			for c := 1; c+1 < width; c++ {
				i := r*width + c
				d := 4*x[i] - x[i-1] - x[i+1] - x[i-width] - x[i+width]
				s += d * d
			}
		}
		return s
	}
	return []Statistic{
		{"flux", func(x []float64) float64 {
			var s float64
			for _, v := range x {
				s += v
			}
			return s
		}},
		{"energy", func(x []float64) float64 {
			var s float64
			for _, v := range x {
				s += v * v
			}
			return s
		}},
		{"gradient", grad},
		{"laplacian", lap},
		{"sky noise", func(x []float64) float64 { return SkyNoise(x, width, 0) }},
		{"negative", func(x []float64) float64 {
			n := 0
			for _, v := range x {
				if v < 0 {
					n++
				}
			}
			return float64(n) / float64(len(x))
		}},
	}
}

// madScale turns a median absolute deviation into the standard deviation
// of a Gaussian: 1/Φ⁻¹(3/4).
const madScale = 1.482602218505602

// SkyNoise estimates the noise of the sky of a width-pixel-wide row-major
// image robustly: 1.4826 × the median absolute deviation, about their
// median, of the pixels within border of the edge (border ≤ 0:
// max(1, width/16), 4 pixels at 64²). For Gaussian noise of standard
// deviation s in the border it tends to s; a source that reaches the
// border or a sky clipped at zero biases it (low for the clipped sky, at
// most half the border non-zero). It allocates a copy of the border.
func SkyNoise(x []float64, width, border int) float64 {
	if width <= 0 || len(x) == 0 {
		return math.NaN()
	}
	h := len(x) / width
	if border <= 0 {
		border = max(1, width/16)
	}
	border = min(border, (width+1)/2, (h+1)/2)
	var b []float64
	for r := range h {
		for c := range width {
			if r < border || c < border || r >= h-border || c >= width-border {
				b = append(b, x[r*width+c])
			}
		}
	}
	m := Median(b)
	for i, v := range b {
		b[i] = math.Abs(v - m)
	}
	return madScale * Median(b)
}

// Median returns the median of v, sorting v in place (NaN for none).
func Median(v []float64) float64 {
	slices.Sort(v)
	k := len(v)
	if k == 0 {
		return math.NaN()
	}
	if k%2 == 1 {
		return v[k/2]
	}
	return 0.5 * (v[k/2-1] + v[k/2])
}

// StatRank is the simulation-based-calibration check of one statistic.
type StatRank struct {
	Name string `json:"name"`
	// Hist[r] is the number of simulations where T(truth) exceeds T of r of
	// the K samples (ties split at random); uniform under calibration.
	Hist []int `json:"rank_hist"`
	// MeanTruth and MeanSamples are the averages of T over the truths and
	// over all samples.
	MeanTruth   float64 `json:"mean_truth"`
	MeanSamples float64 `json:"mean_samples"`
	// ChiSquare is Pearson's statistic of Hist against the uniform
	// histogram and PValue its upper tail with K degrees of freedom
	// (reliable when J/(K+1) ≳ 5).
	ChiSquare float64 `json:"chi_square"`
	PValue    float64 `json:"p_value"`
}

// StatRanks runs simulation-based calibration (Talts et al. 2018) on
// scalar summaries of the images: for every simulation j and statistic T,
// the rank of T(truth_j) among T(s_j1) … T(s_jK). If the truth is
// exchangeable with the samples, the rank is uniform on 0…K for any T, so
// each histogram tests one aspect of the posterior — total flux, contrast,
// small-scale texture — where TARP tests one random direction at a time.
// Ties are broken at random with a stream seeded by seed. All simulations
// must have the same K ≥ 1.
func StatRanks(samples [][][]float64, truths [][]float64, stats []Statistic, seed uint64) ([]StatRank, error) {
	J := len(truths)
	if len(samples) != J || J == 0 {
		return nil, fmt.Errorf("diag: StatRanks: %d sample sets for %d truths", len(samples), J)
	}
	k := len(samples[0])
	for j := range J {
		if len(samples[j]) != k || k < 1 {
			return nil, fmt.Errorf("diag: StatRanks: simulation %d has %d samples, simulation 0 has %d (need the same K ≥ 1)", j, len(samples[j]), k)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5bc))
	out := make([]StatRank, len(stats))
	for q, st := range stats {
		r := StatRank{Name: st.Name, Hist: make([]int, k+1)}
		for j := range J {
			t := st.F(truths[j])
			if math.IsNaN(t) {
				return nil, fmt.Errorf("diag: StatRanks: %s of truth %d is NaN", st.Name, j)
			}
			below, equal := 0, 0
			for q, s := range samples[j] {
				v := st.F(s)
				if math.IsNaN(v) {
					return nil, fmt.Errorf("diag: StatRanks: %s of simulation %d sample %d is NaN", st.Name, j, q)
				}
				r.MeanSamples += v
				switch {
				case v < t:
					below++
				case v == t:
					equal++
				}
			}
			r.MeanTruth += t
			r.Hist[below+rng.IntN(equal+1)]++
		}
		r.MeanTruth /= float64(J)
		r.MeanSamples /= float64(J * k)
		e := float64(J) / float64(k+1)
		for _, c := range r.Hist {
			d := float64(c) - e
			r.ChiSquare += d * d / e
		}
		r.PValue = distuv.ChiSquared{K: float64(k)}.Survival(r.ChiSquare)
		out[q] = r
	}
	return out, nil
}
