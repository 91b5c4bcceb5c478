package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/lenslight"
	"github.com/lenscore/lenscore/observation"
	"github.com/lenscore/lenscore/posterior"
)

// jointLightSummary records the lens light refined jointly with the source.
type jointLightSummary struct {
	Profiles      []lens.Sersic      `json:"profiles"` // with the amplitudes of the joint linear solve
	Sky           float64            `json:"sky"`
	LogEvidence   [2]float64         `json:"log_evidence_start_end"`
	Evaluations   int                `json:"evaluations"`
	PreliminaryLn map[string]float64 `json:"preliminary_lens"`
	MaskRadius    float64            `json:"mask_radius_arcsec"`
	Pixels        int                `json:"pixels"`
}

// refineLightJointly improves a masked lens-light fit (first, whose
// profiles start it) by letting the lensed source explain the arcs: a
// preliminary lens is fitted to the image minus first's light (the arcs'
// annulus keep), then the Sérsic shapes are refined by maximising the
// evidence of the original image within rout of the centre (no arc mask:
// the source, on a fitN² grid of fitScale, and the light amplitudes are
// integrated out) at that lens, and the light with the amplitudes of the
// joint linear solve is returned (PSF-convolved, sky included).
func refineLightJointly(ctx context.Context, orig *observation.Observation, sub *observation.Observation, first []lens.Sersic, keep []bool,
	cx, cy, thetaE, rout float64, fitN int, fitScale float64, seed uint64, progress io.Writer) ([]float64, *jointLightSummary, error) {
	g := lens.Grid{N: orig.NPix, Scale: orig.PixelScale}
	cfg := lens.Config{Obs: g, Src: lens.Grid{N: fitN, Scale: fitScale}, Supersample: 2, PSF: orig.PSF}
	iso, err := posterior.NewIsoGaussian(make([]float64, fitN*fitN), 1, func(float64) float64 { return 0 })
	if err != nil {
		return nil, nil, err
	}
	// 1. Preliminary lens on the masked-fit subtraction.
	ev, err := lensfit.NewEvidence(cfg, lensfit.Data{Y: sub.Image, SigmaN: sub.Sigma(), Keep: keep}, iso)
	if err != nil {
		return nil, nil, err
	}
	pri := lens.DefaultPriors(0.5 * float64(orig.NPix) * orig.PixelScale)
	pri.P[lens.PCenterX] = lens.ParamPrior{Min: cx - 0.3, Max: cx + 0.3}
	pri.P[lens.PCenterY] = lens.ParamPrior{Min: cy - 0.3, Max: cy + 0.3}
	var init lens.Params
	init[lens.PThetaE], init[lens.PCenterX], init[lens.PCenterY] = thetaE, cx, cy
	obj, err := lensfit.NewObjective(ev, pri, init, true, math.Log10(math.Max(maxKept(sub.Image, keep), 1e-30)))
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(progress, "preliminary lens fit on the masked-fit subtraction…\n")
	res, err := lensfit.Fit(ctx, obj, lensfit.FitOptions{Starts: 1, MaxEval: 60 * obj.Dim(), Steps: 8, Samples: 1, Seed: seed, Progress: progress})
	if err != nil {
		return nil, nil, err
	}
	mp, logA10 := obj.Unpack(res.MAP)
	// 2. Joint refinement on the original image inside rout.
	disk := annulusMask(orig.NPix, orig.PixelScale, cx, cy, 0, rout)
	npx := 0
	for i := range disk {
		disk[i] = disk[i] && (orig.Keep == nil || orig.Keep[i])
		if disk[i] {
			npx++
		}
	}
	evJ, err := lensfit.NewEvidence(cfg, lensfit.Data{Y: orig.Image, SigmaN: orig.Sigma(), Keep: disk}, iso)
	if err != nil {
		return nil, nil, err
	}
	wide := 1e4 * math.Max(maxKept(orig.Image, disk), 1e-30) // flat amplitude priors
	comps := make([]lensfit.Component, len(first)+1)
	mass := mp.Mass()
	evf := func(tp [][]float64) (float64, error) {
		for i := range comps {
			comps[i] = lensfit.Component{Image: tp[i], Sigma: wide}
		}
		return evJ.LogEvidence(mass, logA10*math.Ln10, comps)
	}
	fmt.Fprintf(progress, "refining the lens light jointly with the source (%d pixels within %.1f″, lens θ_E %.3f″)…\n", npx, rout, mp[lens.PThetaE])
	jr, err := lenslight.RefineJoint(first, g, orig.PSF, evf, lenslight.JointOptions{Sky: true, FreeCenters: true, MaxEval: 60 * 6 * len(first), Progress: progress})
	if err != nil {
		return nil, nil, err
	}
	if _, err := evf(jr.Templates); err != nil {
		return nil, nil, err
	}
	amps := make([]float64, len(comps))
	if err := evJ.PosteriorMean(make([]float64, fitN*fitN), amps); err != nil {
		return nil, nil, err
	}
	model := make([]float64, len(orig.Image))
	for k, t := range jr.Templates {
		for i, v := range t {
			model[i] += amps[k] * v
		}
	}
	sum := &jointLightSummary{Sky: amps[len(first)], LogEvidence: [2]float64{jr.Start, jr.LogEvidence}, Evaluations: jr.Evals,
		PreliminaryLn: map[string]float64{}, MaskRadius: rout, Pixels: npx}
	for k, p := range jr.Profiles {
		p.Amp = amps[k]
		sum.Profiles = append(sum.Profiles, p)
	}
	for i, n := range lens.ParamNames {
		sum.PreliminaryLn[n] = mp[i]
	}
	return model, sum, nil
}

// maxKept is the largest value of y over the kept pixels.
func maxKept(y []float64, keep []bool) float64 {
	m := math.Inf(-1)
	for i, v := range y {
		if keep == nil || keep[i] {
			m = math.Max(m, v)
		}
	}
	return m
}

// mapInversion inverts the data at a fixed lens under an isotropic
// Gaussian prior whose amplitude maximises the evidence (as
// observation.AutoSourceNorm does) and returns the posterior mean's peak
// (the source normalisation), the model image A x̂ and its χ²_ν over the
// kept pixels (ν = their number).
func mapInversion(op *lens.Operator, y, sigma []float64, keep []bool) (float64, []float64, float64, error) {
	m, n := op.Dims()
	g, err := posterior.NewIsoGaussian(make([]float64, n), 1, func(float64) float64 { return 0 })
	if err != nil {
		return 0, nil, 0, err
	}
	inv, err := posterior.Invert(op, y, sigma, g, posterior.InvertOptions{Keep: keep, ScaleMin: 1e-8, ScaleMax: 1e8})
	if err != nil {
		return 0, nil, 0, fmt.Errorf("MAP source inversion: %w", err)
	}
	peak := math.Inf(-1)
	for _, v := range inv.Mean {
		peak = math.Max(peak, v)
	}
	if !(peak > 0) || math.IsInf(peak, 0) {
		return 0, nil, 0, fmt.Errorf("MAP source inversion: the Gaussian-prior source has no positive peak (%g); is the lens model right?", peak)
	}
	model := make([]float64, m)
	op.Apply(model, inv.Mean)
	var chi float64
	var nu int
	for i := range model {
		if keep != nil && !keep[i] {
			continue
		}
		sg := sigma[0]
		if len(sigma) > 1 {
			sg = sigma[i]
		}
		r := (y[i] - model[i]) / sg
		chi += r * r
		nu++
	}
	return peak, model, chi / float64(max(nu, 1)), nil
}

// lightStage is DIR/lens_light.json: the finished lens-light stage.
type lightStage struct {
	Masked *lightSummary      `json:"masked"`
	Joint  *jointLightSummary `json:"joint,omitempty"`
}

// readLightStage reads a finished lens-light stage (its observation is
// written last, so its presence means the stage finished).
func readLightStage(obsPath, jsonPath string) (*observation.Observation, *lightStage, error) {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, nil, err
	}
	var l lightStage
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	o, err := observation.Read(obsPath)
	if err != nil {
		return nil, nil, err
	}
	return o, &l, nil
}

// loadAverage is the 1-minute load average (0 where /proc/loadavg is not
// readable), recorded because timings on a shared machine mean little
// without it.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return 0
	}
	return l
}
