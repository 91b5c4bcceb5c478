package lensfit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/weights"
)

// F is a float64 that encodes as JSON null when it is not finite.
type F float64

// MarshalJSON writes the number, or null for NaN and ±Inf.
func (f F) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(v, 'g', -1, 64)), nil
}

// ParamSummary describes the posterior of one parameter.
type ParamSummary struct {
	MAP  F `json:"map"`
	Mean F `json:"mean"`
	Std  F `json:"std"`
	Q16  F `json:"q16"`
	Q50  F `json:"q50"`
	Q84  F `json:"q84"`
	RHat F `json:"rhat"`
	ESS  F `json:"ess"`
	Tau  F `json:"tau"`
}

// ModeSummary is one mode found by the optimiser.
type ModeSummary struct {
	Params      map[string]F `json:"parameters"`
	LogPost     F            `json:"log_posterior"`
	LogEvidence F            `json:"log_evidence"`
	Starts      []int        `json:"starts"`
	Converged   bool         `json:"converged"`
	Coarse      bool         `json:"coarse,omitempty"` // position from the coarse optimisation, not refined
}

// Summary is the content of a fit's summary.json.
type Summary struct {
	Free            []string                `json:"free"`
	Parameters      map[string]ParamSummary `json:"parameters"`
	Modes           []ModeSummary           `json:"modes"`
	LogEvidenceMAP  F                       `json:"log_evidence_map"`
	LogPosteriorMAP F                       `json:"log_posterior_map"`
	MAPFromChain    bool                    `json:"map_from_sampler"`
	// Reoptimised: the re-optimisations of the MAP from the chains' best
	// point (FitOptions.ReoptGain), in order.
	Reoptimised []ReoptSummary `json:"reoptimisations,omitempty"`
	Chi2NuMAP   F              `json:"chi2_nu_map"`
	Nu          int            `json:"nu"`
	Evaluations int            `json:"evaluations"`
	Acceptance  F              `json:"acceptance"`
	AcceptIndep F              `json:"acceptance_independence"`
	AcceptRW    F              `json:"acceptance_random_walk"`
	// Moves: the chains' moves (FitOptions.Moves); AcceptDE: the
	// acceptance of the differential-evolution moves (MovesDE).
	Moves    string `json:"moves"`
	AcceptDE F      `json:"acceptance_differential_evolution,omitempty"`
	MaxRHat  F      `json:"max_rhat"`
	MinESS   F      `json:"min_ess"`
	// SamplerStop is "converged" (R̂ and ESS targets met) or "budget"
	// (the step budget ran out first: read R̂ and ESS).
	SamplerStop string `json:"sampler_stop"`
	LaplaceFull bool   `json:"laplace_full_hessian"`
	Adapted     bool   `json:"proposal_adapted"`
	Walkers     int    `json:"chains"`
	Steps       int    `json:"steps"`
	Burn        int    `json:"burn"`
	Samples     int    `json:"samples"`
	// CoarseEvaluations: evaluations of the coarse objective of the
	// multi-start stage (FitOptions.Coarse); MAPSeconds, PosteriorSeconds:
	// wall time of the optimisation and of the sampling stage in this
	// process (a resumed run counts only its own part).
	CoarseEvaluations int `json:"coarse_evaluations,omitempty"`
	MAPSeconds        F   `json:"map_seconds"`
	PosteriorSeconds  F   `json:"posterior_seconds"`
}

// ReoptSummary is one re-optimisation of the MAP from the chains' best point.
type ReoptSummary struct {
	Step        int          `json:"step"`
	OldLogPost  F            `json:"old_map_log_posterior"`
	FromLogPost F            `json:"chains_best_log_posterior"`
	LogPost     F            `json:"log_posterior"`
	Params      map[string]F `json:"parameters"`
	Evaluations int          `json:"evaluations"`
	Converged   bool         `json:"converged"`
}

// Summarise computes the per-parameter summary of a fit.
func Summarise(o *Objective, res *FitResult) *Summary {
	s := &Summary{Free: res.Names, Parameters: map[string]ParamSummary{}, LogEvidenceMAP: F(res.MAPLogEv),
		LogPosteriorMAP: F(res.MAPLogPost), MAPFromChain: res.MAPFromChain, Evaluations: res.Evaluations, Acceptance: F(res.Acceptance),
		AcceptIndep: F(res.AcceptIndep), AcceptRW: F(res.AcceptRW), Moves: res.Moves, SamplerStop: res.Stop, LaplaceFull: res.LaplaceFull, Adapted: res.Adapted,
		Walkers: len(res.Chain[0]), Steps: len(res.Chain), Burn: res.Burn, Samples: len(res.Samples),
		CoarseEvaluations: res.CoarseEvaluations, MAPSeconds: F(res.MAPSeconds), PosteriorSeconds: F(res.PosteriorSeconds)}
	if res.Moves == MovesDE {
		s.AcceptDE = F(res.AcceptDE)
	}
	kept := res.Chain[res.Burn:]
	s.MaxRHat, s.MinESS = F(math.Inf(-1)), F(math.Inf(1))
	for k, name := range res.Names {
		var v []float64
		for _, st := range kept {
			for _, w := range st {
				v = append(v, w[k])
			}
		}
		var m, m2 float64
		for _, x := range v {
			m += x
		}
		m /= float64(len(v))
		for _, x := range v {
			m2 += (x - m) * (x - m)
		}
		s.Parameters[name] = ParamSummary{MAP: F(res.MAP[k]), Mean: F(m), Std: F(math.Sqrt(m2 / float64(len(v)-1))),
			Q16: F(Quantile(v, 0.16)), Q50: F(Quantile(v, 0.5)), Q84: F(Quantile(v, 0.84)),
			RHat: F(res.RHat[k]), ESS: F(res.ESS[k]), Tau: F(res.Tau[k])}
		s.MaxRHat = F(math.Max(float64(s.MaxRHat), res.RHat[k]))
		s.MinESS = F(math.Min(float64(s.MinESS), res.ESS[k]))
	}
	for _, r := range res.Reoptimised {
		rs := ReoptSummary{Step: r.Step, OldLogPost: F(r.OldLogPost), FromLogPost: F(r.FromLogPost), LogPost: F(r.LogPost),
			Params: map[string]F{}, Evaluations: r.Evals, Converged: r.Converged}
		for k, name := range res.Names {
			rs.Params[name] = F(r.X[k])
		}
		s.Reoptimised = append(s.Reoptimised, rs)
	}
	for _, md := range res.Modes {
		ms := ModeSummary{Params: map[string]F{}, LogPost: F(md.LogPost), LogEvidence: F(md.LogEvidence), Starts: md.Starts, Converged: md.Converged, Coarse: md.Coarse}
		for k, name := range res.Names {
			ms.Params[name] = F(md.X[k])
		}
		s.Modes = append(s.Modes, ms)
	}
	return s
}

// MAPModel evaluates the MAP: the posterior-mean source, the model image
// A x̂ (plus the extra components), the normalised residual (NaN where
// masked) and χ²_ν = Σ_kept ((y − model)/σ)² / M_kept. ν = M_kept does not
// subtract the effective number of source degrees of freedom, so a model
// that fits has χ²_ν somewhat below 1.
func MAPModel(o *Objective, res *FitResult, d Data) (src, model, resid []float64, chi2nu float64, nu int, err error) {
	p, s := o.Unpack(res.MAP)
	if _, err = o.Ev.LogEvidence(p.Mass(), s*math.Ln10, o.Extra); err != nil {
		return
	}
	m, n := o.Ev.Dims()
	src, model, resid = make([]float64, n), make([]float64, m), make([]float64, m)
	amps := make([]float64, len(o.Extra))
	if err = o.Ev.PosteriorMean(src, amps); err != nil {
		return
	}
	o.Ev.Rows().Apply(model, src)
	for k, c := range o.Extra {
		for i, v := range c.Image {
			model[i] += amps[k] * v
		}
	}
	var chi float64
	for i := range resid {
		if d.Keep != nil && !d.Keep[i] {
			resid[i] = math.NaN()
			continue
		}
		sg := d.SigmaN[0]
		if len(d.SigmaN) > 1 {
			sg = d.SigmaN[i]
		}
		resid[i] = (d.Y[i] - model[i]) / sg
		chi += resid[i] * resid[i]
		nu++
	}
	return src, model, resid, chi / float64(nu), nu, nil
}

// WriteResults writes DIR/lens.json (the MAP lens), DIR/lens_samples.jsonl
// (one lens file per line, the fixed parameters at their given values),
// DIR/chain.json (names, [step][walker][param], log posteriors),
// DIR/summary.json (sum, marshalled as given: it may embed a *Summary) and
// the figures fit.png, corner.png and chains.png. Every file is written
// atomically.
func WriteResults(dir string, o *Objective, res *FitResult, sum any, d Data) error {
	burn := res.Burn
	mp, _ := o.Unpack(res.MAP)
	if err := mp.Model().WriteFile(filepath.Join(dir, "lens.json")); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, v := range res.Samples {
		p, _ := o.Unpack(v)
		b, err := p.Model().MarshalJSON()
		if err != nil {
			return err
		}
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		buf.WriteByte('\n')
	}
	if err := weights.WriteFileAtomic(filepath.Join(dir, "lens_samples.jsonl"), buf.Bytes()); err != nil {
		return err
	}
	ch, err := json.Marshal(struct {
		Names   []string      `json:"names"`
		Burn    int           `json:"burn"`
		Chain   [][][]float64 `json:"chain"`
		LogPost [][]float64   `json:"log_posterior"`
	}{res.Names, burn, res.Chain, res.LogProb})
	if err != nil {
		return fmt.Errorf("lensfit: chain.json: %w", err)
	}
	if err := weights.WriteFileAtomic(filepath.Join(dir, "chain.json"), ch); err != nil {
		return err
	}
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("lensfit: summary.json: %w", err)
	}
	if err := weights.WriteFileAtomic(filepath.Join(dir, "summary.json"), append(js, '\n')); err != nil {
		return err
	}
	_, model, resid, chi2, _, err := MAPModel(o, res, d)
	if err != nil {
		return err
	}
	cfg := o.Ev.Rows().Config()
	if err := plot.LensFit(filepath.Join(dir, "fit.png"), fmt.Sprintf("MAP lens: θ_E = %.4f″, χ²_ν = %.3f", mp[lens.PThetaE], chi2),
		cfg.Obs.N, cfg.Obs.Scale, d.Y, model, resid); err != nil {
		return err
	}
	var kept [][]float64
	for _, st := range res.Chain[burn:] {
		kept = append(kept, st...)
	}
	if err := plot.Corner(filepath.Join(dir, "corner.png"), "Lens posterior (after burn-in; cross: MAP)", res.Names, kept, res.MAP); err != nil {
		return err
	}
	return plot.Chains(filepath.Join(dir, "chains.png"), fmt.Sprintf("Metropolis–Hastings chains (%d; dashed: end of burn-in)", len(res.Chain[0])), res.Names, res.Chain, burn)
}

// ReadLensSamples reads a lens_samples.jsonl file: one lens file per line
// (blank lines are skipped); errors name the file and the line.
func ReadLensSamples(path string) ([]*lens.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*lens.Model
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := lens.Parse(bytes.NewReader(line), fmt.Sprintf("%s:%d", path, i+1))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no lens in the file", path)
	}
	return out, nil
}
