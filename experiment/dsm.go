package experiment

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"

	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/sde"
)

// NamedPrior is a prior with its noise schedule and a label.
type NamedPrior struct {
	Name  string
	Prior posterior.Prior
	VE    sde.VE
}

// DSMOptions configures DSM. Zero values select the defaults.
type DSMOptions struct {
	// Sigmas is the number of noise levels, log-spaced over
	// [σ_min, σ_max] of Setup.VE at the midpoints of Sigmas equal bins of
	// t (12).
	Sigmas int
	// Draws is the number of noise draws per galaxy and level (1).
	Draws int
	// Batch is the number of images per Score call (16).
	Batch int
}

// DSMCurve is one prior's denoising score-matching loss per noise level.
type DSMCurve struct {
	Name string    `json:"name"`
	Loss []float64 `json:"loss"`     // per noise level, per pixel
	SE   []float64 `json:"loss_se"`  // standard error of Loss over the galaxies
	Mean float64   `json:"mean"`     // mean over the levels = the t ~ U(0,1) loss by the midpoint rule
	Diff []float64 `json:"diff_ref"` // Loss − Loss of the first prior (paired, same draws)
	DSE  []float64 `json:"diff_se"`  // standard error of Diff
	// BySet breaks Mean down by the galaxies' data set (Setup.Sets), in
	// order of first appearance; empty without Setup.Sets.
	BySet []DSMSet `json:"by_set,omitempty"`
}

// DSMSet is one prior's level-averaged loss on the galaxies of one data set.
type DSMSet struct {
	Set      string  `json:"set"`
	Galaxies int     `json:"galaxies"`
	Mean     float64 `json:"mean"`     // mean over the set's galaxies of the level-averaged loss
	SE       float64 `json:"mean_se"`  // its standard error over the galaxies
	Diff     float64 `json:"diff_ref"` // Mean − Mean of the first prior (paired)
	DSE      float64 `json:"diff_se"`  // standard error of Diff
}

// DSMResult holds the comparison (also dsm.json).
type DSMResult struct {
	Sigma    []float64  `json:"sigma"`
	T        []float64  `json:"t"`
	Galaxies int        `json:"galaxies"`
	Draws    int        `json:"draws"`
	Priors   []DSMCurve `json:"priors"`
	Files    []string   `json:"files"`
}

// DSM measures how well each prior's score matches the validation galaxies:
// the per-pixel denoising score-matching loss
//
//	L(σ) = E ‖σ s(x₀ + σ z, σ) + z‖² / N,   z ~ N(0, I),
//
// at fixed noise levels, with the same galaxies x₀ and the same draws z for
// every prior. L(σ) = E‖σ s − σ ∇log p_σ‖²/N + C(σ), where C is the same for
// all priors, so the paired difference of two priors' losses is the
// difference of their score errors: lower is better, and the exact score
// of the galaxies' own distribution attains C. This is the quantity the
// network is trained to minimise (loss of a network that outputs 0 is 1).
// Setup.Prior comes first; ref adds priors to compare, each evaluated at
// its own time t = TimeOf(σ). Writes dsm.png and dsm.json.
func DSM(ctx context.Context, s Setup, ref []NamedPrior, o DSMOptions, dir string) (*DSMResult, error) {
	s, err := s.normalized()
	if err != nil {
		return nil, err
	}
	if err := s.needGalaxies("dsm"); err != nil {
		return nil, err
	}
	if o.Sigmas == 0 {
		o.Sigmas = 12
	}
	if o.Draws == 0 {
		o.Draws = 1
	}
	if o.Batch == 0 {
		o.Batch = 16
	}
	if o.Sigmas < 1 || o.Draws < 1 || o.Batch < 1 {
		return nil, fmt.Errorf("experiment: dsm: Sigmas, Draws and Batch must be ≥ 1, got %d, %d, %d", o.Sigmas, o.Draws, o.Batch)
	}
	priors := append([]NamedPrior{{Name: s.PriorName, Prior: s.Prior, VE: s.VE}}, ref...)
	for _, p := range priors {
		if p.Prior == nil {
			return nil, fmt.Errorf("experiment: dsm: prior %q is nil", p.Name)
		}
		if p.Prior.Dim() != s.Side*s.Side {
			return nil, fmt.Errorf("experiment: dsm: prior %q has %d pixels, want %d", p.Name, p.Prior.Dim(), s.Side*s.Side)
		}
		if err := p.VE.Validate(); err != nil {
			return nil, fmt.Errorf("experiment: dsm: prior %q: %w", p.Name, err)
		}
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	N := s.Side * s.Side
	G := len(s.Galaxies)
	res := &DSMResult{Galaxies: G, Draws: o.Draws}
	for k := range o.Sigmas {
		t := (float64(k) + 0.5) / float64(o.Sigmas)
		res.T = append(res.T, t)
		res.Sigma = append(res.Sigma, s.VE.Sigma(t))
	}
	// per[p][k][j]: loss of prior p at level k for galaxy j (mean over draws)
	per := make([][][]float64, len(priors))
	for p := range per {
		per[p] = make([][]float64, o.Sigmas)
		for k := range per[p] {
			per[p][k] = make([]float64, G)
		}
	}
	xb := make([]float64, o.Batch*N)
	zb := make([]float64, o.Batch*N)
	sb := make([]float64, o.Batch*N)
	s.logf("dsm: %d galaxies × %d levels × %d draws, %d priors", G, o.Sigmas, o.Draws, len(priors))
	for k, sig := range res.Sigma {
		for d := range o.Draws {
			for lo := 0; lo < G; lo += o.Batch {
				if err := checkCtx(ctx, "dsm"); err != nil {
					return nil, err
				}
				hi := min(G, lo+o.Batch)
				nb := hi - lo
				for j := lo; j < hi; j++ {
					r := rand.New(rand.NewPCG(seedFor(s.Seed, tagDSM, uint64(k)), uint64(j*o.Draws+d)))
					z := zb[(j-lo)*N : (j-lo+1)*N]
					x := xb[(j-lo)*N : (j-lo+1)*N]
					for i, g := range s.Galaxies[j] {
						z[i] = r.NormFloat64()
						x[i] = g + sig*z[i]
					}
				}
				for p, pr := range priors {
					if err := pr.Prior.Score(sb[:nb*N], xb[:nb*N], nb, pr.VE.TimeOf(sig)); err != nil {
						return nil, fmt.Errorf("experiment: dsm: prior %q at σ = %.3g: %w", pr.Name, sig, err)
					}
					for j := lo; j < hi; j++ {
						var sum float64
						off := (j - lo) * N
						for i := range N {
							v := sig*sb[off+i] + zb[off+i]
							sum += v * v
						}
						per[p][k][j] += sum / float64(N) / float64(o.Draws)
					}
				}
			}
		}
		s.logf("dsm: σ = %.3g done", sig)
	}
	for p, pr := range priors {
		c := DSMCurve{Name: pr.Name}
		for k := range o.Sigmas {
			m, se := meanSE(per[p][k])
			c.Loss, c.SE = append(c.Loss, m), append(c.SE, se)
			c.Mean += m / float64(o.Sigmas)
			diff := make([]float64, G)
			for j := range diff {
				diff[j] = per[p][k][j] - per[0][k][j]
			}
			m, se = meanSE(diff)
			c.Diff, c.DSE = append(c.Diff, m), append(c.DSE, se)
		}
		c.BySet = dsmBySet(s.Sets, per[p], per[0])
		res.Priors = append(res.Priors, c)
	}
	palette := []color.NRGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}}
	var series []plot.Series
	for p, c := range res.Priors {
		series = append(series, plot.Series{Label: fmt.Sprintf("%s (mean %.4f)", c.Name, c.Mean), X: res.Sigma, Y: c.Loss,
			Color: palette[p%len(palette)], Dashed: p > 0})
	}
	if err := plot.CurveWith(join(dir, "dsm.png"),
		fmt.Sprintf("denoising score-matching loss on %d validation galaxies", G), "σ (noise level)", "loss per pixel",
		plot.CurveOptions{LogX: true}, series...); err != nil {
		return nil, err
	}
	res.Files = []string{"dsm.png", "dsm.json"}
	if err := WriteJSON(join(dir, "dsm.json"), res); err != nil {
		return nil, err
	}
	for _, c := range res.Priors {
		s.logf("dsm: %s: mean loss %.4f", c.Name, c.Mean)
		for _, b := range c.BySet {
			s.logf("dsm: %s: %s (%d galaxies): %.4f ± %.4f, %+.4f ± %.4f against %s", c.Name, b.Set, b.Galaxies,
				b.Mean, b.SE, b.Diff, b.DSE, res.Priors[0].Name)
		}
	}
	return res, nil
}

// dsmBySet averages the per-galaxy losses per[k][j] over the levels k and
// then over the galaxies j of each data set (sets[j]), with the paired
// difference to ref.
func dsmBySet(sets []string, per, ref [][]float64) []DSMSet {
	if len(sets) == 0 || len(per) == 0 {
		return nil
	}
	G := len(per[0])
	avg := func(l [][]float64, j int) float64 {
		var m float64
		for k := range l {
			m += l[k][j]
		}
		return m / float64(len(l))
	}
	var order []string
	members := map[string][]int{}
	for j := range min(G, len(sets)) {
		if _, ok := members[sets[j]]; !ok {
			order = append(order, sets[j])
		}
		members[sets[j]] = append(members[sets[j]], j)
	}
	var out []DSMSet
	for _, name := range order {
		js := members[name]
		v, d := make([]float64, len(js)), make([]float64, len(js))
		for i, j := range js {
			v[i] = avg(per, j)
			d[i] = v[i] - avg(ref, j)
		}
		r := DSMSet{Set: name, Galaxies: len(js)}
		r.Mean, r.SE = meanSE(v)
		r.Diff, r.DSE = meanSE(d)
		out = append(out, r)
	}
	return out
}

// meanSE returns the mean of v and its standard error (NaN for fewer than
// two values).
func meanSE(v []float64) (mean, se float64) {
	m := meanSD(v)
	if len(v) < 2 {
		return m.Mean, math.NaN()
	}
	return m.Mean, m.SD / math.Sqrt(float64(len(v)))
}
