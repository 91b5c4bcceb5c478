package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	ThetaE float64 `json:"theta_e"` // intermediate-axis (product-average) convention, as lenscore's
	Q      float64 `json:"q"`
	PADeg  float64 `json:"pa_deg_east_of_north"`
	Note   string  `json:"note"`
}

// slacsNote explains what can and cannot be compared.
const slacsNote = "Bolton et al. 2008 (SLACS V) SIE: b_SIE is the intermediate-axis Einstein radius, κ = b/(2√(q x² + y²/q)), the same convention as lenscore's θ_E " +
	"(codes normalised on the major axis quote θ_E/√q instead). θ_E as tabulated by SLACS (1.62″, 1.52″; also Auger et al. 2009); q and the position angle " +
	"are quoted from memory of the SLACS V table, not re-checked. The frames carry no WCS, so the position angle (east of north) cannot be mapped onto φ."

var realSystems = map[string]realSystem{
	"slacs2303+1422": {Name: "slacs2303+1422", Image: "image_lens_subtracted.fits", ThetaE: 1.5, Annulus: [2]float64{0.6, 2.8}, FitScale: 0.05,
		Published: published{Ref: "Bolton et al. 2008, ApJ 682, 964", ThetaE: 1.62, Q: 0.61, PADeg: 35.0, Note: slacsNote}},
	"slacs1430+4105": {Name: "slacs1430+4105", Image: "image.fits", LensLight: true, ThetaE: 1.5, Annulus: [2]float64{0.7, 2.6}, FitScale: 0.08,
		Published: published{Ref: "Bolton et al. 2008, ApJ 682, 964", ThetaE: 1.52, Q: 0.68, PADeg: 111.7, Note: slacsNote}},
}

// realSummary is DIR/summary.json of demo --real.
type realSummary struct {
	System      string                 `json:"system"`
	Observation string                 `json:"observation"`
	Geometry    geometry               `json:"geometry"`
	NoiseScale  float64                `json:"noise_map_scale"`
	LensLight   *lightSummary          `json:"lens_light,omitempty"`
	Lens        map[string]meanStd     `json:"lens"`
	LensMAP     map[string]float64     `json:"lens_map"`
	Published   published              `json:"published"`
	FitLens     *lensfit.Summary       `json:"fit_lens"`
	Chi2        chi2Masked             `json:"chi2_nu_masked"`
	SourceNorm  float64                `json:"source_norm"`
	Prior       string                 `json:"source_prior"`
	Sampler     map[string]interface{} `json:"sampler"`
	Stages      map[string]float64     `json:"stage_seconds"`
	WallSeconds float64                `json:"wall_seconds"`
	Backend     string                 `json:"gemm_backend"`
}

// chi2Masked is χ²_ν over the pixels inside the mask: of the MAP lens with
// its Gaussian-prior source, and of each source sample with its lens draw.
type chi2Masked struct {
	MAP     float64   `json:"map"`
	Samples []float64 `json:"samples"`
	Nu      int       `json:"nu"`
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
	srcN := fs.Int("source-npix", 64, "source grid side of the source samples (the network prior's)")
	srcScale := fs.Float64("source-pixel-scale", 0.04, "source pixel scale of the samples, arcsec")
	starts := fs.Int("starts", 4, "lens-fit optimiser starts")
	mcSteps := fs.Int("lens-steps", 120, "lens-posterior step budget per Metropolis–Hastings chain (stops earlier once R̂ < 1.05 and ESS ≥ 400)")
	maxEvals := fs.Int("lens-max-evals", 0, "evidence evaluations per optimiser start (0: 150 × free parameters)")
	draws := fs.Int("lens-draws", 4, "lens posterior draws the source is sampled under")
	perLens := fs.Int("samples-per-lens", 2, "source samples per lens draw")
	model := fs.String("model", "", "trained prior file (default: the shipped network prior, built into lenscore)")
	kind := fs.String("prior", "network", "source prior: network (--model, default the shipped one), grf (the built-in GRF, 64² sources) or gaussian")
	steps := fs.String("steps", "auto/8", "reverse-time steps of the source sampler (auto, auto/K or a number)")
	likelihood := fs.String("likelihood", "convolved", "likelihood of the source sampler (see lenscore sample --help)")
	seed := fs.Uint64("seed", 1, "seed of the lens fit and the source sampler")
	resume := fs.Bool("resume", false, "continue an interrupted run in --out (the lens fit from its checkpoint, the finished source draws from draws/)")
	crop := fs.Bool("ci", false, "a small quick run for tests: 32×32 at 0.2″, 16² sources, few steps")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sys, ok := realSystems[*system]
	if !ok {
		return fmt.Errorf("--system %q: want slacs2303+1422 or slacs1430+4105", *system)
	}
	if *crop {
		for name, v := range map[string]string{"npix": "32", "rebin": "4", "fit-source-npix": "16", "fit-source-scale": "0.1", "source-npix": "16",
			"source-pixel-scale": "0.16", "starts": "1", "lens-steps": "12", "lens-max-evals": "500", "lens-draws": "2", "samples-per-lens": "1", "steps": "auto", "prior": "gaussian"} {
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
	if *fitScale == 0 {
		*fitScale = sys.FitScale
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
	start := time.Now()
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
	if sys.LensLight {
		t0 = time.Now()
		fmt.Fprintf(env.stderr, "fitting the lens light (2 Sérsic profiles, arcs' annulus %.1f–%.1f″ excluded)…\n", sys.Annulus[0], sys.Annulus[1])
		sub, ls, err := subtractLight(ob, lenslight.Options{Profiles: 2, CenterX: rep.CenterX, CenterY: rep.CenterY, Exclude: ann})
		if err != nil {
			return err
		}
		ls.Observation = filepath.Join(*out, "obs_imported.fits")
		sum.LensLight = ls
		ob = sub
		if err := ob.Write(filepath.Join(*out, "obs_light_subtracted.fits")); err != nil {
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
	fitCfg := lens.Config{Obs: g, Src: lens.Grid{N: *fitN, Scale: *fitScale}, Supersample: 2, PSF: ob.PSF}
	fdata := lensfit.Data{Y: ob.Image, SigmaN: ob.Sigma(), Keep: keep}
	iso, err := posterior.NewIsoGaussian(make([]float64, *fitN**fitN), 1, func(float64) float64 { return 0 })
	if err != nil {
		return err
	}
	ev, err := lensfit.NewEvidence(fitCfg, fdata, iso)
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
	fmt.Fprintf(env.stderr, "fitting the lens (SIE + shear, %d² source of %g″ integrated out, %d starts, ≤ %d posterior steps per chain)…\n", *fitN, *fitScale, *starts, *mcSteps)
	_, ckErr := os.Stat(ckPath)
	res, err := lensfit.Fit(ctx, obj, lensfit.FitOptions{Starts: *starts, MaxEval: *maxEvals, Steps: *mcSteps, Samples: max(*draws, 16), Seed: *seed,
		Checkpoint: ckPath, Resume: *resume && ckErr == nil, Progress: env.stderr,
		Fingerprint: fmt.Sprintf("demo-real %s npix=%d rebin=%d psf=%g fit=%d/%g starts=%d evals=%d steps=%d seed=%d", sys.Name, *npix, *rebin, *psfFlux, *fitN, *fitScale, *starts, *maxEvals, *mcSteps, *seed)})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.stderr, "\ninterrupted: continue with the same command and --resume\n")
		}
		return err
	}
	sum.FitLens = lensfit.Summarise(obj, res)
	_, _, _, chi2map, nu, err := lensfit.MAPModel(obj, res, fdata)
	if err != nil {
		return err
	}
	sum.Chi2.MAP, sum.Chi2.Nu = chi2map, nu
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
	s, err := observation.AutoSourceNorm(opMAP, ob.Image, ob.Sigma(), keep)
	if err != nil {
		return err
	}
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
	if err := fs2.Parse([]string{"--likelihood", *likelihood, "--sampler", "em", "--seed", fmt.Sprint(*seed)}); err != nil {
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
	sum.Sampler = map[string]interface{}{"sampler": "em", "steps": opt.Steps, "likelihood": *likelihood, "lens_draws": *draws, "samples_per_lens": *perLens}
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
		xs, ok := readDraw(drawPath, *srcN, *perLens)
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
			if err := writeDraw(drawPath, *srcN, xs); err != nil {
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
	if err := writeRealOutputs(*out, ob, keep, nz, samples, recon, obj, res, fdata, sys.Name); err != nil {
		return err
	}
	sum.WallSeconds = time.Since(start).Seconds()
	if err := experiment.WriteJSON(filepath.Join(*out, "summary.json"), sum); err != nil {
		return err
	}
	os.Remove(ckPath)
	fmt.Fprintf(env.stdout, "demo --real %s done in %.0f s: θ_E %.3f ± %.3f″ (published %.2f), q %.3f ± %.3f (%.2f), γ %.3f ± %.3f; χ²_ν MAP %.3f, samples %s\nsee %s/data_model_residual.png, %s/source.png, %s/fit/corner.png, %s/summary.json\n",
		sys.Name, sum.WallSeconds, sum.Lens["theta_e"].Mean, sum.Lens["theta_e"].Std, sys.Published.ThetaE, sum.Lens["q"].Mean, sum.Lens["q"].Std, sys.Published.Q,
		sum.Lens["gamma"].Mean, sum.Lens["gamma"].Std, sum.Chi2.MAP, fmtFloats(sum.Chi2.Samples), *out, *out, *out, *out)
	return nil
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
func writeRealOutputs(dir string, ob *observation.Observation, keep []bool, nz diag.Noise, samples, recon [][]float64,
	obj *lensfit.Objective, res *lensfit.FitResult, d lensfit.Data, name string) error {
	n, m := ob.SrcNPix, ob.NPix
	mean, std, err := diag.MeanStd(samples)
	if err != nil {
		return err
	}
	if err := writeSourceFITS(dir, ob, samples, mean, std); err != nil {
		return err
	}
	// Data, MAP model, normalised residuals (masked pixels at 0).
	src, model, _, _, _, err := lensfit.MAPModel(obj, res, d)
	if err != nil {
		return err
	}
	_ = src
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

// writeDraw stores the source samples of one lens draw (data units).
func writeDraw(path string, n int, xs [][]float64) error {
	cube := make([]float64, 0, len(xs)*n*n)
	for _, x := range xs {
		cube = append(cube, x...)
	}
	return fits.WriteFile(path, []*fits.HDU{fits.NewCube(n, n, len(xs), cube)})
}

// readDraw loads a stored lens draw's samples when it has the expected
// shape.
func readDraw(path string, n, k int) ([][]float64, bool) {
	hdus, err := fits.ReadFile(path)
	if err != nil || len(hdus) == 0 || len(hdus[0].Shape) != 3 || hdus[0].Shape[0] != n || hdus[0].Shape[1] != n || hdus[0].Shape[2] != k {
		return nil, false
	}
	xs := make([][]float64, k)
	for i := range xs {
		xs[i] = hdus[0].Data[i*n*n : (i+1)*n*n]
	}
	return xs, true
}
