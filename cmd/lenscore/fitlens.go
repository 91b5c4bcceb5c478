package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
)

// fitLensSummary is DIR/summary.json of fit-lens.
type fitLensSummary struct {
	*lensfit.Summary
	Observation          string              `json:"observation"`
	LensInit             string              `json:"lens_init"`
	SourcePrior          string              `json:"source_prior"`
	Priors               map[string]lensPrio `json:"priors"`
	Geometry             geometry            `json:"geometry"`
	Seed                 uint64              `json:"seed"`
	Starts               int                 `json:"starts"`
	WallSeconds          float64             `json:"wall_seconds"`
	SecondsPerEvaluation float64             `json:"seconds_per_evaluation"`
	Backend              string              `json:"linalg_backend"`
	SourceOffsets        *sourceOffsetRecord `json:"source_offset_correction,omitempty"`
}

// lensPrio is one parameter's prior as recorded in the summary.
type lensPrio struct {
	Fixed bool       `json:"fixed,omitempty"`
	Value *float64   `json:"value,omitempty"` // the fixed value
	Min   lensfit.F  `json:"min"`
	Max   lensfit.F  `json:"max"`
	Mean  *lensfit.F `json:"mean,omitempty"`
	Sigma *lensfit.F `json:"sigma,omitempty"`
	Joint *lensfit.F `json:"joint_max,omitempty"`
}

// fitLensProblem is what fit-lens and lens-samples need from an observation:
// loaded through problem.go (the one place observations are read), with the
// lens of --lens-init.
func fitLensProblem(pf *problemFlags) (*problem, lensfit.Data, error) {
	p, err := pf.load()
	if err != nil {
		return nil, lensfit.Data{}, err
	}
	return p, lensfit.Data{Y: p.Y, SigmaN: p.SigmaN, Keep: p.Keep}, nil
}

// fitSourcePrior returns the Gaussian source prior of the evidence: the
// --prior flags, with --prior grf defaulting to the built-in spectrum fitted
// to the training galaxies for 64×64 sources.
func fitSourcePrior(prf *priorFlags, n int) (*loadedPrior, error) {
	if *prf.model != "" || *prf.kind == "network" {
		return nil, errors.New("the lens evidence integrates the source out analytically and needs a Gaussian prior: --prior grf or gaussian")
	}
	if *prf.kind == "grf" && *prf.data == "" {
		if n != 64 {
			return nil, fmt.Errorf("--prior grf with a %d×%d source needs --prior-data (a lenscore fit-grf --size %d file or a folder of galaxies)", n, n, n)
		}
		p, pn, h, err := readAssetImage("assets/grf64.fits")
		if err != nil {
			return nil, err
		}
		lp, err := grfFromHDU("built-in grf64.fits", p, pn, h, n, 0)
		if err != nil {
			return nil, err
		}
		lp.Name = "grf(built-in, fitted to the training galaxies)"
		return lp, nil
	}
	return prf.load(n)
}

// lensFitPriors builds the parameter priors: the defaults for the field,
// then the lens file's "priors" block, then --lens-prior, then --free.
func lensFitPriors(m *lens.Model, fieldHalf float64, priorFlag, freeFlag string, fixScale bool) (lens.Priors, error) {
	pr := lens.DefaultPriors(fieldHalf)
	if m.Priors != nil {
		if err := m.Priors.Apply(&pr); err != nil {
			return pr, fmt.Errorf("priors block: %w", err)
		}
	}
	spec, err := lens.ParsePriorFlag(priorFlag)
	if err != nil {
		return pr, fmt.Errorf("--lens-prior: %w", err)
	}
	if err := spec.Apply(&pr); err != nil {
		return pr, fmt.Errorf("--lens-prior: %w", err)
	}
	if freeFlag != "" {
		for i := range pr.P {
			pr.P[i].Fixed = true
		}
		for _, name := range strings.Split(freeFlag, ",") {
			name = strings.TrimSpace(name)
			i, ok := lens.ParamIndex(name)
			if !ok {
				return pr, fmt.Errorf("--free: unknown parameter %q (want %s)", name, strings.Join(lens.ParamNames[:], ", "))
			}
			pr.P[i].Fixed = false
		}
	}
	if len(pr.Free()) == 0 && fixScale {
		return pr, errors.New("no free parameter: give --free with at least one of " + strings.Join(lens.ParamNames[:], ", "))
	}
	return pr, nil
}

// hashData hashes the observation, noise and mask for the fingerprint.
func hashData(d lensfit.Data) string {
	h := sha256.New()
	var b [8]byte
	for _, v := range append(append([]float64(nil), d.Y...), d.SigmaN...) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	for _, k := range d.Keep {
		if k {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func runFitLens(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "fit-lens", "--obs O.fits --lens-init L.json [--free theta_e,e1,e2,center_x,center_y,gamma1,gamma2] [--lens-prior 'theta_e=0.5:2,center_x=N(0,0.05)'] [--prior grf|gaussian] [--samples N] [--seed S] --out DIR")
	pf := addProblemFlags(fs)
	prf := addPriorFlags(fs, "grf", false)
	lensInit := fs.String("lens-init", "", "starting lens (JSON lens file with one SIE and at most one SHEAR; its optional \"priors\" block sets the priors); --lens is a synonym")
	free := fs.String("free", "", "comma-separated free parameters (default: all of theta_e,e1,e2,center_x,center_y,gamma1,gamma2 except those fixed in the priors block)")
	lensPrior := fs.String("lens-prior", "", "priors of the lens parameters, overriding the lens file's: NAME=LO:HI (uniform), NAME=N(MEAN,SIGMA) (Gaussian), NAME=fixed, e=MAX, gamma=MAX; defaults: 0 < theta_e ≤ half the field, |e| < 0.6, centre in the field, |γ| < 0.3")
	scale := fs.Float64("source-scale", 0, "log10 of the source prior's amplitude a (covariance a²Σ₀): the start, or the value with --fix-source-scale")
	fixScale := fs.Bool("fix-source-scale", false, "keep the source prior's amplitude fixed instead of fitting (MAP) and marginalising (MCMC) it")
	starts := fs.Int("starts", 6, "optimiser starts (the initial lens and perturbations of it)")
	maxEval := fs.Int("max-evals", 0, "evidence evaluations per optimiser start (0: 150 × free parameters)")
	coarse := fs.Int("coarse", 0, "source grid coarsening factor of the screen, multi-start optimisation and flipped start, whose best mode is then refined on the full grid (0: 2 for sources of ≥ 48² pixels, else 1 = none)")
	walkers := fs.Int("walkers", 0, "independent Metropolis–Hastings chains of the lens posterior (0: 8)")
	moves := fs.String("moves", lensfit.MovesLaplace, "moves of the lens-posterior chains: laplace (Student-t independence proposal + random walk from the Laplace fit) or de (those plus differential-evolution moves between the chains, which follow ridge-shaped posteriors; docs/real-lenses.md)")
	steps := fs.Int("steps", 400, "step budget per chain; sampling stops earlier once every parameter has R̂ < --rhat-target and ESS ≥ --ess-target")
	burn := fs.Int("burn", 0, "steps per chain discarded as burn-in, at whose end the proposal is adapted (0: 40, at most half of --steps)")
	rhatTarget := fs.Float64("rhat-target", 1.05, "split-R̂ below which (with --ess-target) the sampler stops")
	essTarget := fs.Float64("ess-target", 400, "effective sample size per parameter above which (with --rhat-target) the sampler stops")
	samples := fs.Int("samples", 64, "lens posterior draws written to lens_samples.jsonl")
	seed := fs.Uint64("seed", 1, "seed of the perturbed starts and of the sampler")
	resume := fs.Bool("resume", false, "continue an interrupted run from the checkpoint in --out")
	out := fs.String("out", "", "output directory")
	df := addDebiasFlags(fs)
	corr := fs.Float64("prior-corr", 0, "source prior of the evidence: a Gaussian random field with a Gaussian correlation of this many source pixels and a fitted amplitude (lensfit.SmoothGRF), instead of --prior (0: use --prior)")
	scan := fs.Bool("scan", false, "instead of fitting, scan the log posterior through the starting lens (at --source-scale) along each free lens parameter and measure its ripples: DIR/scan.json, DIR/scan.png")
	scanPoints := fs.Int("scan-points", 61, "--scan: points per parameter (odd)")
	scanScale := fs.String("scan-scale", "optimise", "--scan: log10 a of the scan: optimise (type-II maximum likelihood at the lens) or given (--source-scale)")
	scanHalf := fs.Float64("scan-half", 5, "--scan: half-width of each line in conditional standard deviations (from the curvature at ±0.1 typical scales)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *lensInit != "" && *pf.lens != "" && *lensInit != *pf.lens {
		return errors.New("give --lens-init or --lens, not both")
	}
	if *lensInit != "" {
		*pf.lens = *lensInit
	}
	if err := required(fs, "obs", "lens", "out"); err != nil {
		return err
	}
	if *starts < 1 || *steps < 8 || *samples < 1 || *walkers < 0 || *burn < 0 || *maxEval < 0 {
		return fmt.Errorf("--starts, --samples must be ≥ 1 and --steps ≥ 8 (got %d, %d, %d); --walkers, --burn, --max-evals ≥ 0", *starts, *samples, *steps)
	}
	if *moves != lensfit.MovesLaplace && *moves != lensfit.MovesDE {
		return fmt.Errorf("--moves %q: want %s or %s", *moves, lensfit.MovesLaplace, lensfit.MovesDE)
	}
	if !(*rhatTarget > 1) || !(*essTarget > 0) {
		return fmt.Errorf("--rhat-target must be > 1 and --ess-target > 0 (got %g, %g)", *rhatTarget, *essTarget)
	}
	start := time.Now()
	model, err := lens.ParseFile(*pf.lens)
	if err != nil {
		return err
	}
	init, err := lens.ParamsFromModel(model)
	if err != nil {
		return fmt.Errorf("%s: %w", *pf.lens, err)
	}
	p, data, err := fitLensProblem(pf)
	if err != nil {
		return err
	}
	if *coarse == 0 {
		*coarse = lensfit.DefaultCoarse(p.Geo.SrcNPix)
	}
	if *coarse < 0 || *coarse > 1 && (p.Geo.SrcNPix%*coarse != 0 || p.Geo.SrcNPix / *coarse < 2) {
		return fmt.Errorf("--coarse %d must divide the %d² source grid (and leave ≥ 2 pixels a side), or be 0 or 1", *coarse, p.Geo.SrcNPix)
	}
	half := 0.5 * float64(p.Geo.NPix) * p.Geo.Scale
	pr, err := lensFitPriors(model, half, *lensPrior, *free, *fixScale)
	if err != nil {
		return err
	}
	if err := pr.Check(init); err != nil {
		return fmt.Errorf("%s: the starting lens is outside the priors: %w", *pf.lens, err)
	}
	sp, err := fitSourcePrior(prf, p.Geo.SrcNPix)
	if err != nil {
		return err
	}
	defer sp.Close()
	if *corr < 0 || math.IsNaN(*corr) || math.IsInf(*corr, 0) {
		return fmt.Errorf("--prior-corr must be ≥ 0 (pixels), got %g", *corr)
	}
	if *corr > 0 {
		g, err := lensfit.SmoothGRF(p.Geo.SrcNPix, *corr)
		if err != nil {
			return err
		}
		sp.Gaussian, sp.Name = g, fmt.Sprintf("smooth GRF (Gaussian correlation of %g source pixels, unit pixel variance)", *corr)
	}
	net, err := df.load(p.Geo.SrcNPix)
	if err != nil {
		return err
	}
	if net != nil {
		defer net.Close()
	}
	ev, err := lensfit.NewEvidence(p.Geo.config(), data, sp.Gaussian)
	if err != nil {
		return err
	}
	obj, err := lensfit.NewObjective(ev, pr, init, !*fixScale, *scale)
	if err != nil {
		return fmt.Errorf("%s: %w", *pf.lens, err)
	}
	ckPath := filepath.Join(*out, "checkpoint.json")
	if err := checkOutDir(*out); err != nil {
		return err
	}
	if *scan {
		if *scanScale != "optimise" && *scanScale != "given" {
			return fmt.Errorf("--scan-scale %q: want optimise or given", *scanScale)
		}
		return runLensScan(ctx, env, obj, sp.Gaussian, *scanScale == "optimise", scanSummary{Observation: p.ObsPath, Lens: *pf.lens, SourcePrior: sp.Name, Geometry: p.Geo, Log10Scale: *scale, Backend: backendLine()},
			*scanPoints, *scanHalf, *out)
	}
	if !*resume {
		if _, err := os.Stat(ckPath); err == nil {
			return fmt.Errorf("%s holds an unfinished fit (%s); continue it with --resume or choose another --out", *out, ckPath)
		}
		if _, err := os.Stat(filepath.Join(*out, "lens_samples.jsonl")); err == nil {
			return fmt.Errorf("%s already holds a finished fit; choose another --out", *out)
		}
	}
	opt := lensfit.FitOptions{Starts: *starts, MaxEval: *maxEval, Walkers: *walkers, Steps: *steps, Burn: *burn, Samples: *samples,
		RHatTarget: *rhatTarget, ESSTarget: *essTarget, Seed: *seed, Checkpoint: ckPath, Resume: *resume, Progress: env.stderr, Coarse: *coarse, Moves: *moves}
	opt.Fingerprint = fmt.Sprintf("obs=%s geo=%+v prior=%s priors=%+v start=%v scale=%g fit_scale=%v starts=%d max_evals=%d walkers=%d steps=%d burn=%d samples=%d rhat=%g ess=%g seed=%d",
		hashData(data), struct {
			N, SN, Su int
			S, SS, F  float64
		}{p.Geo.NPix, p.Geo.SrcNPix, p.Geo.Super, p.Geo.Scale, p.Geo.SrcScale, p.Geo.PSFFWHM},
		sp.Name, pr, init, *scale, !*fixScale, *starts, *maxEval, *walkers, *steps, *burn, *samples, *rhatTarget, *essTarget, *seed)
	if *coarse > 1 {
		opt.Fingerprint += fmt.Sprintf(" coarse=%d", *coarse)
	}
	if *moves != lensfit.MovesLaplace {
		opt.Fingerprint += " moves=" + *moves
	}
	fmt.Fprintf(env.stderr, "fit-lens: %d free parameters (%s), source prior %s, %d² source, %d² image, linalg %s\n",
		obj.Dim(), strings.Join(obj.Names(), ", "), sp.Name, p.Geo.SrcNPix, p.Geo.NPix, backendLine())
	res, err := lensfit.Fit(ctx, obj, opt)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.stderr, "\ninterrupted: continue with the same command and --resume\n")
		}
		return err
	}
	var offsets *sourceOffsetRecord
	if net != nil {
		progress := func(f string, a ...any) { fmt.Fprintf(env.stderr, f+"\n", a...) }
		if offsets, err = debiasFit(ctx, net, *df.k, p, data, sp.Gaussian, pr, init, !*fixScale, obj, res, *seed, progress); err != nil {
			return err
		}
	}
	sum := &fitLensSummary{Summary: lensfit.Summarise(obj, res), Observation: p.ObsPath, LensInit: *pf.lens, SourcePrior: sp.Name,
		Priors: priorsRecord(pr, init), Geometry: p.Geo, Seed: *seed, Starts: *starts, Backend: backendLine(), SourceOffsets: offsets}
	_, _, _, chi2, nu, err := lensfit.MAPModel(obj, res, data)
	if err != nil {
		return err
	}
	sum.Chi2NuMAP, sum.Nu = lensfit.F(chi2), nu
	sum.WallSeconds = time.Since(start).Seconds()
	sum.SecondsPerEvaluation = sum.WallSeconds / float64(max(res.Evaluations, 1))
	if err := lensfit.WriteResults(*out, obj, res, sum, data); err != nil {
		return err
	}
	os.Remove(ckPath)
	fmt.Fprintf(env.stdout, "wrote %s: %d mode(s); MAP log evidence %.2f, χ²_ν %.3f; ", *out, len(res.Modes), res.MAPLogEv, chi2)
	for k, n := range res.Names {
		ps := sum.Parameters[n]
		fmt.Fprintf(env.stdout, "%s %.4g ± %.2g%s", n, float64(ps.Q50), 0.5*float64(ps.Q84-ps.Q16), map[bool]string{true: ", ", false: ""}[k < len(res.Names)-1])
	}
	fmt.Fprintf(env.stdout, "; max R̂ %.3f, min ESS %.0f, %d evaluations, %.0f s\n", float64(sum.MaxRHat), float64(sum.MinESS), res.Evaluations, sum.WallSeconds)
	for _, r := range res.Reoptimised {
		fmt.Fprintf(env.stdout, "re-optimised the MAP from the chains' best point at step %d: log posterior %.2f → %.2f (chains' best %.2f)\n",
			r.Step, r.OldLogPost, r.LogPost, r.FromLogPost)
	}
	if res.Stop != lensfit.StopConverged {
		fmt.Fprintf(env.stderr, "warning: the step budget ran out before R̂ < %g and ESS ≥ %g (max R̂ %.3f, min ESS %.0f); run more --steps\n",
			*rhatTarget, *essTarget, float64(sum.MaxRHat), float64(sum.MinESS))
	}
	return nil
}

// priorsRecord describes the priors for the summary.
func priorsRecord(pr lens.Priors, init lens.Params) map[string]lensPrio {
	out := map[string]lensPrio{}
	for i, q := range pr.P {
		r := lensPrio{Fixed: q.Fixed, Min: lensfit.F(q.Min), Max: lensfit.F(q.Max)}
		if q.Fixed {
			v := init[i]
			r.Value = &v
		}
		if q.Sigma > 0 {
			m, s := lensfit.F(q.Mean), lensfit.F(q.Sigma)
			r.Mean, r.Sigma = &m, &s
		}
		out[lens.ParamNames[i]] = r
	}
	if pr.MaxEllipticity > 0 {
		v := lensfit.F(pr.MaxEllipticity)
		out["e"] = lensPrio{Min: 0, Max: v, Joint: &v}
	}
	if pr.MaxShear > 0 {
		v := lensfit.F(pr.MaxShear)
		out["gamma"] = lensPrio{Min: 0, Max: v, Joint: &v}
	}
	return out
}
