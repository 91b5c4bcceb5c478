package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/lenslight"
	"github.com/lenscore/lenscore/observation"
	"github.com/lenscore/lenscore/obsimport"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
)

// realSystem is one of the shipped real lenses (../shared/data/reallens).
type realSystem struct {
	Name      string     // folder name
	Image     string     // image file in the folder
	LensLight bool       // the lens galaxy's light is still in the image
	ThetaE    float64    // starting Einstein radius, arcsec
	Annulus   [2]float64 // likelihood mask: arcs live in this annulus, arcsec
	FitScale  float64    // source pixel of the lens fit at 32², arcsec (see --fit-source-scale)
	Published published
}

// published is an SIE model from the literature, for comparison.
type published struct {
	Ref    string  `json:"reference"`
	ThetaE float64 `json:"theta_e"` // b_SIE: intermediate-axis convention, the same as lenscore's θ_E
	Q      float64 `json:"q"`
	PADeg  float64 `json:"pa_deg_east_of_north"`
	// PhiNorthUp is the PA as lenscore's φ (radians counter-clockwise from
	// +x, modulo π) for a frame with north up and east left (+x = west):
	// φ = π/2 + PA. These frames have no WCS, so it holds only up to the
	// frame's unknown rotation.
	PhiNorthUp float64 `json:"phi_if_north_up"`
	Shear      float64 `json:"gamma_ext"` // SLACS V fits no external shear: 0 by construction
	Verified   string  `json:"verified"`
	Note       string  `json:"note"`
}

// slacsNote explains what can and cannot be compared.
const slacsNote = "Bolton et al. 2008 (SLACS V), Table 4, SIE without external shear: κ = b/(2√(q x'² + y'²/q)), b the intermediate-axis Einstein radius — " +
	"lenscore's (and lenstronomy's) θ_E convention, so θ_E = b_SIE with no conversion (codes normalised on the major axis quote b/√q). q = minor/major in both. " +
	"The PA is the major axis in degrees east of north; with north up and east left φ = 90° + PA, but these frames carry no WCS, so φ is comparable only up to the frame's rotation."

// northUpPhi converts a position angle east of north (degrees) to φ
// (radians from +x, counter-clockwise, in (−π/2, π/2]) for a north-up,
// east-left frame.
func northUpPhi(paDeg float64) float64 {
	return math.Remainder((90+paDeg)*math.Pi/180, math.Pi)
}

var realSystems = map[string]realSystem{
	"slacs2303+1422": {Name: "slacs2303+1422", Image: "image_lens_subtracted.fits", ThetaE: 1.5, Annulus: [2]float64{0.6, 2.8}, FitScale: 0.05,
		Published: published{Ref: "Bolton et al. 2008, ApJ 682, 964", ThetaE: 1.62, Q: 0.61, PADeg: 35.0, PhiNorthUp: northUpPhi(35.0),
			Verified: "θ_E 1.62″ checked against Sonnenfeld's SLACS table (theta_Ein); q and PA not re-checked against the table", Note: slacsNote}},
	"slacs1430+4105": {Name: "slacs1430+4105", Image: "image.fits", LensLight: true, ThetaE: 1.5, Annulus: [2]float64{0.7, 2.6}, FitScale: 0.08,
		Published: published{Ref: "Bolton et al. 2008, ApJ 682, 964", ThetaE: 1.52, Q: 0.68, PADeg: 111.7, PhiNorthUp: northUpPhi(111.7),
			Verified: "θ_E 1.52″ checked against Sonnenfeld's SLACS table; q 0.68 and PA 111.7° as quoted from SLACS in a PyAutoLens user's script", Note: slacsNote}},
}

// realSummary is DIR/summary.json of demo --real.
type realSummary struct {
	System      string                 `json:"system"`
	Observation string                 `json:"observation"`
	Geometry    geometry               `json:"geometry"`
	NoiseScale  float64                `json:"noise_map_scale"`
	LensLight   *lightSummary          `json:"lens_light,omitempty"`
	JointLight  *jointLightSummary     `json:"lens_light_joint,omitempty"`
	Lens        map[string]meanStd     `json:"lens"`
	LensMAP     map[string]float64     `json:"lens_map"`
	Published   published              `json:"published"`
	FitLens     *lensfit.Summary       `json:"fit_lens"`
	FitSetup    map[string]any         `json:"fit_setup"`
	Chi2        chi2Masked             `json:"chi2_nu_masked"`
	SourceNorm  float64                `json:"source_norm"`
	Prior       string                 `json:"source_prior"`
	Sampler     map[string]interface{} `json:"sampler"`
	Stages      map[string]float64     `json:"stage_seconds"`
	WallSeconds float64                `json:"wall_seconds"`
	CPUSeconds  float64                `json:"cpu_seconds"` // of this process (a --resume run counts only itself)
	Load        [2]float64             `json:"load_average_start_end,omitempty"`
	Backend     string                 `json:"gemm_backend"`
}

// chi2Masked is χ²_ν over the pixels inside the mask: of the MAP lens with
// its Gaussian-prior source (inverted on the samples' source grid), and of
// each source sample with its lens draw.
type chi2Masked struct {
	MAP        float64   `json:"map"`
	MAPSource  string    `json:"map_source_grid"`
	MAPFitGrid float64   `json:"map_on_fit_grid"` // the lens fit's smaller source field: source light falls off it
	Samples    []float64 `json:"samples"`
	Nu         int       `json:"nu"`
}

type meanStd struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
}

// isRealDemo reports whether the demo's arguments ask for --real.
func isRealDemo(args []string) bool {
	for _, a := range args {
		switch a {
		case "-real", "--real", "-real=true", "--real=true":
			return true
		}
	}
	return false
}

func runDemoReal(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "demo --real", "[--system slacs2303+1422|slacs1430+4105] [--data DIR] --out DIR")
	fs.Bool("real", true, "run the real-lens demo")
	system := fs.String("system", "slacs2303+1422", "the real lens: slacs2303+1422 (lens light subtracted) or slacs1430+4105 (lens light present)")
	data := fs.String("data", "../shared/data/reallens", "folder holding the systems' image, noise_map and psf files")
	out := fs.String("out", "lenscore-demo-real", "output directory (must not hold a previous run)")
	npix := fs.Int("npix", 64, "observation side in output pixels")
	rebin := fs.Int("rebin", 2, "input pixels per output pixel side (HST 0.05″ → 0.1″)")
	psfFlux := fs.Float64("psf-flux", 0.95, "PSF crop: flux fraction kept")
	fitN := fs.Int("fit-source-npix", 32, "source grid side of the lens fit (the evidence is dense: O(npix⁶))")
	fitScale := fs.Float64("fit-source-scale", 0, "source pixel scale of the lens fit, arcsec (default per system: 0.05 for J2303, whose 1.6″ field at 32² cannot hold its two arcs as separate unlensed images — with 2.56″ a θ_E of 0.9″ won the evidence; 0.08 for J1430, whose source spans ≈ 2″)")
	fitSuper := fs.Int("fit-supersample", 2, "ray-tracing supersampling of the lens fit (3 or 4 do not smooth the evidence on J2303: docs/lens-fitting.md, \"Ripples of the evidence\")")
	fitCorr := fs.Float64("fit-prior-corr", 0, "source prior of the lens fit: 0, the isotropic Gaussian N(0, a²I); > 0, a Gaussian random field with a Gaussian correlation of this many fit-source pixels (lensfit.SmoothGRF: it halves the evidence's ripples, but on J2303 at 2 pixels it moves the lens to q 0.42 and the chains do not mix; docs/lens-fitting.md)")
	srcN := fs.Int("source-npix", 64, "source grid side of the source samples (the network prior's)")
	srcScale := fs.Float64("source-pixel-scale", 0.04, "source pixel scale of the samples, arcsec")
	starts := fs.Int("starts", 2, "lens-fit optimiser starts, plus the orientation-flipped start (2 keeps the J2303 run near 30 min on 2 cores)")
	mcSteps := fs.Int("lens-steps", 400, "lens-posterior step budget per Metropolis–Hastings chain (stops earlier once R̂ < 1.05 and ESS ≥ 400)")
	lensMoves := fs.String("lens-moves", lensfit.MovesLaplace, "moves of the lens-posterior chains: laplace (Student-t independence proposal + random walk from the Laplace fit) or de (those plus differential-evolution moves between the chains; docs/real-lenses.md)")
	maxEvals := fs.Int("lens-max-evals", 700, "evidence evaluations per optimiser start (0: 150 × free parameters)")
	draws := fs.Int("lens-draws", 4, "lens posterior draws the source is sampled under")
	perLens := fs.Int("samples-per-lens", 2, "source samples per lens draw")
	model := fs.String("model", "", "trained prior file (default: the shipped network prior, built into lenscore)")
	kind := fs.String("prior", "network", "source prior: network (--model, default the shipped one), grf (the built-in GRF, 64² sources) or gaussian")
	steps := fs.String("steps", "40", "reverse-time steps of the source sampler (auto, auto/K or a number)")
	sampler := fs.String("sampler", "dpm2", "source sampler: dpm2, em, pc or ancestral (see lenscore sample --help)")
	likelihood := fs.String("likelihood", "projected-jacobian", "likelihood of the source sampler (see lenscore sample --help); the paper's convolved one is over-confident at HST signal-to-noise")
	jacBelow := fs.Float64("jacobian-below", 0.1, "projected-jacobian: the network's Jacobian only while σ(t) ≤ this (dpm2 at 40 steps is stable with 0.1)")
	seed := fs.Uint64("seed", 1, "seed of the lens fit and the source sampler")
	resume := fs.Bool("resume", false, "continue an interrupted run in --out (the lens fit from its checkpoint, the finished source draws from draws/)")
	joint := fs.Bool("joint-light", true, "lens light present: refine the masked Sérsic fit jointly with the source (the arcs explained by a preliminary lens, not masked) before the lens fit")
	crop := fs.Bool("ci", false, "a small quick run for tests: 32×32 at 0.2″, 16² sources, few steps")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sys, ok := realSystems[*system]
	if !ok {
		return fmt.Errorf("--system %q: want slacs2303+1422 or slacs1430+4105", *system)
	}
	if *crop && sys.Name != "slacs2303+1422" {
		// The CI crop's settings (32×32 at 0.2″, a 16² source of 0.1″ for
		// the fit, the J2303 mask) were chosen on J2303, whose lens light
		// is subtracted; on another system they give a meaningless fit.
		return fmt.Errorf("--ci: the CI crop is set up for slacs2303+1422 only, not %s (run %s without --ci)", sys.Name, sys.Name)
	}
	if *crop {
		for name, v := range map[string]string{"npix": "32", "rebin": "4", "fit-source-npix": "16", "fit-source-scale": "0.1", "source-npix": "16",
			"source-pixel-scale": "0.16", "starts": "1", "lens-steps": "12", "lens-max-evals": "500", "lens-draws": "2", "samples-per-lens": "1", "steps": "auto", "sampler": "em", "likelihood": "convolved", "prior": "gaussian"} {
			if !isFlagSet(fs, name) {
				if err := fs.Set(name, v); err != nil {
					return err
				}
			}
		}
	}
	if *draws < 1 || *perLens < 1 || *starts < 1 || *mcSteps < 8 || *maxEvals < 0 {
		return fmt.Errorf("--lens-draws, --samples-per-lens, --starts must be ≥ 1, --lens-steps ≥ 8 and --lens-max-evals ≥ 0")
	}
	if *lensMoves != lensfit.MovesLaplace && *lensMoves != lensfit.MovesDE {
		return fmt.Errorf("--lens-moves %q: want %s or %s", *lensMoves, lensfit.MovesLaplace, lensfit.MovesDE)
	}
	if *fitScale == 0 {
		*fitScale = sys.FitScale
	}
	if *fitSuper < 1 || *fitSuper > 16 {
		return fmt.Errorf("--fit-supersample must be in 1…16, got %d", *fitSuper)
	}
	if *fitCorr < 0 || math.IsNaN(*fitCorr) || math.IsInf(*fitCorr, 0) {
		return fmt.Errorf("--fit-prior-corr must be ≥ 0 (source pixels), got %g", *fitCorr)
	}
	if !(*fitScale > 0) {
		return fmt.Errorf("--fit-source-scale must be > 0, got %g", *fitScale)
	}
	dir := filepath.Join(*data, sys.Name)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--data %s: no folder %s (the real lenses live in ../shared/data/reallens of a lenscore checkout)", *data, dir)
	}
	lk, err := lockOutDir(*out, dirlock.DefaultName) // a second run into --out fails at once
	if err != nil {
		return err
	}
	defer lk.Release()
	if _, err := os.Stat(filepath.Join(*out, "summary.json")); err == nil {
		return fmt.Errorf("%s already holds a finished run; choose another --out", *out)
	}
	ckPath := filepath.Join(*out, "fit", "checkpoint.json")
	if _, err := os.Stat(ckPath); err == nil && !*resume {
		return fmt.Errorf("%s holds an unfinished run (%s); continue it with --resume or choose another --out", *out, ckPath)
	}
	start, load0 := time.Now(), loadAverage()
	stages := map[string]float64{}
	stage := func(name string, t0 time.Time) { stages[name] = time.Since(t0).Seconds() }
	sum := &realSummary{System: sys.Name, Published: sys.Published, Stages: stages, Backend: backendLine()}

	// 1. Import.
	t0 := time.Now()
	ob, rep, err := obsimport.Import(obsimport.Options{Image: filepath.Join(dir, sys.Image), HDU: -1, NoiseMap: filepath.Join(dir, "noise_map.fits"),
		PSF: filepath.Join(dir, "psf.fits"), PixelScale: 0.05, NPix: *npix, Rebin: *rebin, PSFFlux: *psfFlux,
		SrcNPix: *srcN, SrcScale: *srcScale})
	if err != nil {
		return err
	}
	obsPath := filepath.Join(*out, "obs.fits") // written once the masks and normalisation are known
	if err := ob.Write(filepath.Join(*out, "obs_imported.fits")); err != nil {
		return err
	}
	sum.NoiseScale = rep.NoiseScale
	stage("import", t0)
	fmt.Fprintf(env.stderr, "demo --real %s: %d×%d at %g″/px, noise map ×%.3f (sky scatter), PSF %d×%d\n", sys.Name, ob.NPix, ob.NPix, ob.PixelScale, rep.NoiseScale, ob.PSF.Rows, ob.PSF.Cols)

	// 2. Lens light (J1430): fitted outside the arcs' annulus, subtracted.
	g := lens.Grid{N: ob.NPix, Scale: ob.PixelScale}
	ann := annulusMask(ob.NPix, ob.PixelScale, rep.CenterX, rep.CenterY, sys.Annulus[0], sys.Annulus[1])
	subPath, lightPath := filepath.Join(*out, "obs_light_subtracted.fits"), filepath.Join(*out, "lens_light.json")
	if sys.LensLight && *resume {
		// The light stage is not checkpointed inside; a finished one is
		// reused.
		if o2, l2, err := readLightStage(subPath, lightPath); err == nil {
			fmt.Fprintf(env.stderr, "reusing the lens light of %s\n", subPath)
			ob, sum.LensLight, sum.JointLight = o2, l2.Masked, l2.Joint
			sys.LensLight = false
		}
	}
	if sys.LensLight {
		t0 = time.Now()
		fmt.Fprintf(env.stderr, "fitting the lens light (2 Sérsic profiles, arcs' annulus %.1f–%.1f″ excluded)…\n", sys.Annulus[0], sys.Annulus[1])
		sub, ls, err := subtractLight(ob, lenslight.Options{Profiles: 2, CenterX: rep.CenterX, CenterY: rep.CenterY, Exclude: ann})
		if err != nil {
			return err
		}
		ls.Observation = filepath.Join(*out, "obs_imported.fits")
		sum.LensLight = ls
		if *joint {
			keepAnn := make([]bool, len(ann))
			for i := range keepAnn {
				keepAnn[i] = ann[i] && (ob.Keep == nil || ob.Keep[i])
			}
			model, js, err := refineLightJointly(ctx, ob, sub, ls.Profiles, keepAnn, rep.CenterX, rep.CenterY, sys.ThetaE, sys.Annulus[1], *fitN, *fitScale, *seed, env.stderr)
			if err != nil {
				return err
			}
			sum.JointLight = js
			j := *ob
			j.Image, j.LensLight = make([]float64, len(ob.Image)), model
			for i, v := range ob.Image {
				if ob.Keep == nil || ob.Keep[i] {
					j.Image[i] = v - model[i]
				}
			}
			j.History = append(append([]string(nil), ob.History...), fmt.Sprintf("lens light subtracted: %d Sersic profiles + sky refined jointly with the source (log evidence %+.1f)", len(js.Profiles), js.LogEvidence[1]-js.LogEvidence[0]))
			sub = &j
		}
		ob = sub
		if err := experiment.WriteJSON(lightPath, lightStage{Masked: sum.LensLight, Joint: sum.JointLight}); err != nil {
			return err
		}
		if err := ob.Write(subPath); err != nil {
			return err
		}
		stage("lens_light", t0)
	}
	// Likelihood mask: the arcs' annulus (it drops the subtraction residual
	// at the centre) and the importer's masks.
	keep := make([]bool, len(ann))
	for i := range keep {
		keep[i] = ann[i] && (ob.Keep == nil || ob.Keep[i])
	}
	ob.Keep = keep
	sum.Observation = obsPath

	// 3. Lens fit on a coarse source grid with the source integrated out.
	t0 = time.Now()
	fitCfg := lens.Config{Obs: g, Src: lens.Grid{N: *fitN, Scale: *fitScale}, Supersample: *fitSuper, PSF: ob.PSF}
	fdata := lensfit.Data{Y: ob.Image, SigmaN: ob.Sigma(), Keep: keep}
	var fitPrior posterior.GaussianPrior
	if *fitCorr > 0 {
		fitPrior, err = lensfit.SmoothGRF(*fitN, *fitCorr)
	} else {
		fitPrior, err = posterior.NewIsoGaussian(make([]float64, *fitN**fitN), 1, func(float64) float64 { return 0 })
	}
	if err != nil {
		return err
	}
	ev, err := lensfit.NewEvidence(fitCfg, fdata, fitPrior)
	if err != nil {
		return err
	}
	pri := lens.DefaultPriors(0.5 * float64(ob.NPix) * ob.PixelScale)
	pri.P[lens.PCenterX] = lens.ParamPrior{Min: rep.CenterX - 0.3, Max: rep.CenterX + 0.3}
	pri.P[lens.PCenterY] = lens.ParamPrior{Min: rep.CenterY - 0.3, Max: rep.CenterY + 0.3}
	var init lens.Params
	init[lens.PThetaE], init[lens.PCenterX], init[lens.PCenterY] = sys.ThetaE, rep.CenterX, rep.CenterY
	// log10 a: the source amplitude in the data's units.
	peak := 0.0
	for i, v := range ob.Image {
		if keep[i] {
			peak = math.Max(peak, v)
		}
	}
	obj, err := lensfit.NewObjective(ev, pri, init, true, math.Log10(math.Max(peak, 1e-30)))
	if err != nil {
		return err
	}
	fitDir := filepath.Join(*out, "fit")
	if err := checkOutDir(fitDir); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "fitting the lens (SIE + shear, %d² source of %g″ integrated out under %s, supersampling %d, %d starts, ≤ %d posterior steps per chain)…\n",
		*fitN, *fitScale, fitPriorName(*fitCorr), *fitSuper, *starts, *mcSteps)
	_, ckErr := os.Stat(ckPath)
	res, err := lensfit.Fit(ctx, obj, lensfit.FitOptions{Starts: *starts, MaxEval: *maxEvals, Steps: *mcSteps, Samples: max(*draws, 16), Seed: *seed,
		Checkpoint: ckPath, Resume: *resume && ckErr == nil, Progress: env.stderr, Moves: *lensMoves,
		Fingerprint: fmt.Sprintf("demo-real %s npix=%d rebin=%d psf=%g fit=%d/%g super=%d corr=%g starts=%d evals=%d steps=%d seed=%d", sys.Name, *npix, *rebin, *psfFlux, *fitN, *fitScale, *fitSuper, *fitCorr, *starts, *maxEvals, *mcSteps, *seed) + movesFingerprint(*lensMoves)})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.stderr, "\ninterrupted: continue with the same command and --resume\n")
		}
		return err
	}
	sum.FitLens = lensfit.Summarise(obj, res)
	sum.FitSetup = map[string]any{"source_npix": *fitN, "source_pixel_scale": *fitScale, "supersample": *fitSuper, "prior_corr_pixels": *fitCorr, "source_prior": fitPriorName(*fitCorr)}
	_, _, _, chi2map, nu, err := lensfit.MAPModel(obj, res, fdata)
	if err != nil {
		return err
	}
	sum.Chi2.MAPFitGrid, sum.Chi2.Nu = chi2map, nu
	sum.FitLens.Chi2NuMAP, sum.FitLens.Nu = lensfit.F(chi2map), nu
	if err := lensfit.WriteResults(fitDir, obj, res, sum.FitLens, fdata); err != nil {
		return err
	}
	sum.Lens, sum.LensMAP = lensStats(obj, res)
	stage("fit_lens", t0)

	// 4. Source samples under the score prior, one batch per lens draw.
	t0 = time.Now()
	ob.SrcNPix, ob.SrcScale = *srcN, *srcScale
	mapP, _ := obj.Unpack(res.MAP)
	opMAP, err := lens.NewOperator(mapP.Mass(), ob.Config())
	if err != nil {
		return err
	}
	// The source normalisation (observation.AutoSourceNorm: the peak of
	// the evidence-optimised isotropic-Gaussian inversion) and the MAP
	// model's χ² come from one inversion on the samples' source grid,
	// which holds the whole lensed source (the lens fit's smaller field
	// does not: part of the arcs' light falls off it).
	s, mapModel, chiMAP, err := mapInversion(opMAP, ob.Image, ob.Sigma(), keep)
	if err != nil {
		return err
	}
	sum.Chi2.MAP = chiMAP
	sum.Chi2.MAPSource = fmt.Sprintf("%d² at %g″ (the samples' grid)", *srcN, *srcScale)
	sum.SourceNorm = s
	ob.SourceNorm = s
	// What the fit and the sampler saw (lens light subtracted, masks,
	// SRCNORM): `lenscore sample --obs DIR/obs.fits --lens DIR/fit/lens.json`
	// repeats the source sampling.
	if err := ob.Write(obsPath); err != nil {
		return err
	}
	var pr *loadedPrior
	if *kind == "gaussian" { // N(0, 0.3² I) in prior units (the CI run's small grids)
		pfs := flag.NewFlagSet("", flag.ContinueOnError)
		prf := addPriorFlags(pfs, "gaussian", false)
		if err := pfs.Parse([]string{"--prior-sigma", "0.3"}); err != nil {
			return err
		}
		pr, err = prf.load(*srcN)
	} else {
		pr, err = demoPrior(*model, *kind, *srcN, *perLens)
	}
	if err != nil {
		return err
	}
	defer pr.Close()
	sum.Prior = pr.Name
	fs2 := flag.NewFlagSet("", flag.ContinueOnError)
	sf := addSamplerFlags(fs2, *perLens, *steps)
	if err := fs2.Parse([]string{"--likelihood", *likelihood, "--sampler", *sampler, "--jacobian-below", fmt.Sprint(*jacBelow), "--seed", fmt.Sprint(*seed)}); err != nil {
		return err
	}
	opt, err := sf.options()
	if err != nil {
		return err
	}
	if sf.stepDiv > 0 {
		n, err := pr.VE.StepsFor(pr.Prior.Dim(), opt.Target)
		if err != nil {
			return err
		}
		opt.Steps = max(1, n/sf.stepDiv)
	}
	sum.Sampler = map[string]interface{}{"sampler": *sampler, "steps": opt.Steps, "likelihood": *likelihood, "jacobian_below": *jacBelow, "lens_draws": *draws, "samples_per_lens": *perLens}
	geo := geometry{NPix: ob.NPix, Scale: ob.PixelScale, SrcNPix: *srcN, SrcScale: *srcScale, Super: ob.Supersample, PSF: ob.PSF,
		Unit: ob.Unit, SourceNorm: s, SourceNormFrom: "auto"}
	sum.Geometry = geo
	var samples, recon [][]float64
	var lensOf []int
	nz := diag.Noise{Map: ob.Sigma(), Mask: make([]bool, len(keep))}
	if len(nz.Map) == 1 {
		nz = diag.Noise{Sigma: nz.Map[0], Mask: nz.Mask}
	}
	for i, k := range keep {
		nz.Mask[i] = !k
	}
	idx := evenDraws(len(res.Samples), *draws)
	drawDir := filepath.Join(*out, "draws")
	if err := checkOutDir(drawDir); err != nil {
		return err
	}
	for d, j := range idx {
		lp, _ := obj.Unpack(res.Samples[j])
		hk := fnv.New64a()
		fmt.Fprintf(hk, "%s %d %s %s %s %g %d %g s=%.9g seed=%d draw=%d %v", *sampler, opt.Steps, *likelihood, *kind, *model, *jacBelow, *srcN, *srcScale, s, *seed, j, lp)
		drawKey := fmt.Sprintf("%016x", hk.Sum64())
		op, err := lens.NewOperator(lp.Mass(), ob.Config())
		if err != nil {
			return err
		}
		p := &problem{ObsPath: obsPath, Geo: geo, Y: scaledCopy(ob.Image, 1/s), SigmaN: scaledCopy(ob.Sigma(), 1/s), Keep: keep, Op: op, Norm: s}
		lik, err := likelihoodFor(sf.kind, "", p, pr, opt.Chains)
		if err != nil {
			return err
		}
		o := opt
		o.Seed = *seed + uint64(d)*1000003
		o.Progress = env.stderr
		drawPath := filepath.Join(drawDir, fmt.Sprintf("draw%03d.fits", d))
		xs, ok := readDraw(drawPath, *srcN, *perLens, drawKey)
		if !ok || !*resume {
			fmt.Fprintf(env.stderr, "source samples under lens draw %d of %d (θ_E %.3f″)…\n", d+1, len(idx), lp[lens.PThetaE])
			r, err := posterior.Sample(ctx, pr.Prior, lik, pr.VE, o)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					fmt.Fprintf(env.stderr, "\ninterrupted: continue with the same command and --resume\n")
				}
				return err
			}
			xs = r.Samples
			for _, x := range xs {
				scaleSlice(x, s)
			}
			if err := writeDraw(drawPath, *srcN, xs, drawKey); err != nil {
				return err
			}
		}
		for _, x := range xs {
			ax := make([]float64, ob.NPix*ob.NPix)
			op.Apply(ax, x)
			c, _, err := diag.ChiSquaredNuModel(ob.Image, ax, nz)
			if err != nil {
				return err
			}
			samples, recon, lensOf = append(samples, x), append(recon, ax), append(lensOf, d)
			sum.Chi2.Samples = append(sum.Chi2.Samples, c)
		}
	}
	stage("source_samples", t0)

	// 5. Outputs.
	if err := writeRealOutputs(*out, ob, keep, nz, samples, recon, mapModel); err != nil {
		return err
	}
	sum.WallSeconds, sum.CPUSeconds = time.Since(start).Seconds(), cpuSeconds()
	sum.Load = [2]float64{load0, loadAverage()}
	if err := experiment.WriteJSON(filepath.Join(*out, "summary.json"), sum); err != nil {
		return err
	}
	os.Remove(ckPath)
	fmt.Fprintf(env.stdout, "demo --real %s done in %.0f s: θ_E %.3f ± %.3f″ (published %.2f), q %.3f ± %.3f (%.2f), γ %.3f ± %.3f; χ²_ν MAP %.3f, samples %s\nsee %s/data_model_residual.png, %s/source.png, %s/fit/corner.png, %s/summary.json\n",
		sys.Name, sum.WallSeconds, sum.Lens["theta_e"].Mean, sum.Lens["theta_e"].Std, sys.Published.ThetaE, sum.Lens["q"].Mean, sum.Lens["q"].Std, sys.Published.Q,
		sum.Lens["gamma"].Mean, sum.Lens["gamma"].Std, sum.Chi2.MAP, fmtFloats(sum.Chi2.Samples), *out, *out, *out, *out)
	return nil
}

// fitPriorName describes the lens fit's source prior.
func fitPriorName(corr float64) string {
	if corr > 0 {
		return fmt.Sprintf("a GRF of %g-pixel Gaussian correlation", corr)
	}
	return "an isotropic Gaussian"
}

// evenDraws picks k indices spread evenly over n.
func evenDraws(n, k int) []int {
	k = min(k, n)
	out := make([]int, k)
	for i := range out {
		out[i] = (2*i + 1) * n / (2 * k)
	}
	return out
}

// lensStats returns the posterior mean and std of the lens parameters and
// the derived q, φ (radians, counter-clockwise from +x), γ and φ_γ, and the
// MAP values.
func lensStats(obj *lensfit.Objective, res *lensfit.FitResult) (map[string]meanStd, map[string]float64) {
	derive := func(p lens.Params) map[string]float64 {
		q, phi := lens.QPhiFromEllipticity(p[lens.PE1], p[lens.PE2])
		m := map[string]float64{"q": q, "phi": phi, "gamma": math.Hypot(p[lens.PGamma1], p[lens.PGamma2]),
			"phi_gamma": 0.5 * math.Atan2(p[lens.PGamma2], p[lens.PGamma1])}
		for i, n := range lens.ParamNames {
			m[n] = p[i]
		}
		return m
	}
	vals := map[string][]float64{}
	var ref float64
	for k, v := range res.Samples {
		p, _ := obj.Unpack(v)
		d := derive(p)
		if k == 0 {
			ref = d["phi"]
		}
		// φ is defined modulo π: unwrap about the first draw.
		d["phi"] = ref + math.Remainder(d["phi"]-ref, math.Pi)
		for n, x := range d {
			vals[n] = append(vals[n], x)
		}
	}
	out := map[string]meanStd{}
	for n, v := range vals {
		var m, s2 float64
		for _, x := range v {
			m += x
		}
		m /= float64(len(v))
		for _, x := range v {
			s2 += (x - m) * (x - m)
		}
		out[n] = meanStd{Mean: m, Std: math.Sqrt(s2 / float64(max(1, len(v)-1)))}
	}
	mp, _ := obj.Unpack(res.MAP)
	return out, derive(mp)
}

// writeRealOutputs writes the source samples, mean, std and the figures.
func writeRealOutputs(dir string, ob *observation.Observation, keep []bool, nz diag.Noise, samples, recon [][]float64, model []float64) error {
	n, m := ob.SrcNPix, ob.NPix
	mean, std, err := diag.MeanStd(samples)
	if err != nil {
		return err
	}
	if err := writeSourceFITS(dir, ob, samples, mean, std); err != nil {
		return err
	}
	// Data, MAP model, normalised residuals (masked pixels at 0).
	resid := make([]float64, m*m)
	if _, err := diag.ResidualSNR(resid, ob.Image, model, nz); err != nil {
		return err
	}
	meanRecon := make([]float64, m*m)
	for _, r := range recon {
		for i, v := range r {
			meanRecon[i] += v / float64(len(recon))
		}
	}
	residS := make([]float64, m*m)
	if _, err := diag.ResidualSNR(residS, ob.Image, meanRecon, nz); err != nil {
		return err
	}
	for i, k := range keep {
		if !k {
			resid[i], residS[i] = 0, 0
		}
	}
	if err := plot.Grid(filepath.Join(dir, "data_model_residual.png"), [][]float64{ob.Image, model, resid, meanRecon, residS}, m, m, 3,
		[]string{"data (" + ob.Unit + ")", "MAP lens, Gaussian-prior source", "(data − MAP model)/σ, in mask", "mean of A·x over the samples", "(data − mean A·x)/σ, in mask"}); err != nil {
		return err
	}
	ims := [][]float64{}
	titles := []string{}
	for k := 0; k < min(4, len(samples)); k++ {
		ims = append(ims, samples[k])
		titles = append(titles, fmt.Sprintf("sample %d", k+1))
	}
	ims = append(ims, mean, std)
	titles = append(titles, "posterior mean", "posterior std")
	return plot.Grid(filepath.Join(dir, "source.png"), ims, n, n, 3, titles)
}

// writeSourceFITS writes samples.fits (one plane per sample), mean.fits and
// std.fits in the data's units.
func writeSourceFITS(dir string, ob *observation.Observation, samples [][]float64, mean, std []float64) error {
	n := ob.SrcNPix
	cube := make([]float64, 0, len(samples)*n*n)
	for _, s := range samples {
		cube = append(cube, s...)
	}
	for _, f := range []struct {
		name string
		d    []float64
		nz   int
	}{{"samples.fits", cube, len(samples)}, {"mean.fits", mean, 1}, {"std.fits", std, 1}} {
		h := fits.NewCube(n, n, f.nz, f.d)
		if f.nz == 1 {
			h = fits.NewImage(n, n, f.d)
		}
		h.Header.Set(kwSrcScale, ob.SrcScale, "source pixel scale [arcsec]")
		h.Header.Set("BUNIT", cardText(ob.Unit), "surface brightness per observation input pixel")
		if err := fits.WriteFile(filepath.Join(dir, f.name), []*fits.HDU{h}); err != nil {
			return err
		}
	}
	return nil
}

// writeDraw stores the source samples of one lens draw (data units) with
// key, the settings they were drawn with.
func writeDraw(path string, n int, xs [][]float64, key string) error {
	cube := make([]float64, 0, len(xs)*n*n)
	for _, x := range xs {
		cube = append(cube, x...)
	}
	h := fits.NewCube(n, n, len(xs), cube)
	h.Header.Set("DRAWKEY", key, "hash of the sampler settings and lens draw")
	return fits.WriteFile(path, []*fits.HDU{h})
}

// readDraw loads a stored lens draw's samples when it has the expected
// shape and was drawn with the same settings (key).
func readDraw(path string, n, k int, key string) ([][]float64, bool) {
	hdus, err := fits.ReadFile(path)
	if err != nil || len(hdus) == 0 || len(hdus[0].Shape) != 3 || hdus[0].Shape[0] != n || hdus[0].Shape[1] != n || hdus[0].Shape[2] != k {
		return nil, false
	}
	if c, ok := hdus[0].Header.Get("DRAWKEY"); !ok || c.Value != key {
		return nil, false // drawn with other settings: draw again
	}
	xs := make([][]float64, k)
	for i := range xs {
		xs[i] = hdus[0].Data[i*n*n : (i+1)*n*n]
	}
	return xs, true
}

// movesFingerprint is the lens fit's fingerprint suffix for the chains'
// moves (none for the default, so that earlier checkpoints still resume).
func movesFingerprint(moves string) string {
	if moves == lensfit.MovesLaplace {
		return ""
	}
	return " moves=" + moves
}
