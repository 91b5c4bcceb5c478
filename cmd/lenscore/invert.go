package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
)

type invertSummary struct {
	Observation     string    `json:"observation"`
	Lens            string    `json:"lens"`
	Prior           string    `json:"prior"`
	Amplitude       float64   `json:"amplitude"` // prior covariance a²Σ₀ used for the outputs
	LogEvidence     float64   `json:"log_evidence"`
	BestAmplitude   float64   `json:"best_amplitude"`
	BestLogEvidence float64   `json:"best_log_evidence"`
	CurveAmplitude  []float64 `json:"evidence_curve_amplitude"`
	CurveLogEv      []float64 `json:"evidence_curve_log_evidence"`
	Chi2NuMean      float64   `json:"chi2_nu_of_mean"`
	Nu              int       `json:"nu"`
	Geometry        geometry  `json:"geometry"`
	WallSeconds     float64   `json:"wall_seconds"`
	// Method is dense (exact) or krylov (matrix-free: the log evidence is
	// a stochastic estimate with standard error LogEvidenceErr, the std
	// the spread of StdSamples exact posterior samples).
	Method         string  `json:"method"`
	LogEvidenceErr float64 `json:"log_evidence_stderr,omitempty"`
	StdSamples     int     `json:"std_samples,omitempty"`
}

func runInvert(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "invert", "--obs O.fits --lens L.json (--prior gaussian --prior-sigma s | --prior grf --prior-data DIR) [--optimise] --out DIR")
	pf := addProblemFlags(fs)
	prf := addPriorFlags(fs, "gaussian", false)
	optimise := fs.Bool("optimise", false, "use the evidence-maximising prior amplitude for the outputs instead of the given one")
	method := fs.String("method", "auto", "dense (exact, O(N³) time and N² memory), krylov (matrix-free: Lanczos evidence with a stochastic log-determinant, CG mean, std from exact posterior samples) or auto (dense up to 64×64 sources)")
	probes := fs.Int("probes", 32, "krylov: random probes of the log-determinant")
	stdSamples := fs.Int("std-samples", 32, "krylov: posterior samples for the standard deviation (relative error ≈ 1/√(2K))")
	seed := fs.Uint64("seed", 1, "krylov: seed of the probes and samples")
	out := fs.String("out", "", "output directory")
	force := addForceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "obs", "lens", "out"); err != nil {
		return err
	}
	if *prf.kind == "network" {
		return fmt.Errorf("invert is exact and needs a Gaussian prior (gaussian or grf); use sample for the network prior")
	}
	start := time.Now()
	p, err := pf.load()
	if err != nil {
		return err
	}
	switch *method {
	case "auto":
		*method = "dense"
		if p.Geo.SrcNPix > 64 {
			*method = "krylov"
		}
	case "dense", "krylov":
	default:
		return fmt.Errorf("--method must be auto, dense or krylov, got %q", *method)
	}
	if *probes < 2 || *stdSamples < 2 {
		return fmt.Errorf("--probes and --std-samples must be ≥ 2, got %d and %d", *probes, *stdSamples)
	}
	if *method == "dense" {
		if err := checkDense("invert --method dense", "--method krylov (matrix-free)", p.Geo.SrcNPix, p.Geo.NPix*p.Geo.NPix, *prf.kind == "gaussian"); err != nil {
			return err
		}
	}
	pr, err := prf.load(p.Geo.SrcNPix)
	if err != nil {
		return err
	}
	lk, err := lockOutDir(*out, dirlock.DefaultName)
	if err != nil {
		return err
	}
	defer lk.Release()
	if err := refuseFinished(*out, *force); err != nil {
		return err
	}
	var ev interface {
		LogEvidence(a float64) float64
		Maximise(lo, hi float64) (float64, float64, error)
	}
	var kv *posterior.KrylovEvidence
	if *method == "dense" {
		fmt.Fprintf(env.stderr, "factorising the %d-pixel problem (dense; may take a while at large sizes)…\n", p.Geo.SrcNPix*p.Geo.SrcNPix)
		if ev, err = posterior.NewEvidence(p.Op, p.Y, p.SigmaN, p.Keep, pr.Gaussian); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.stderr, "Lanczos on the %d-pixel problem (matrix-free, %d log-determinant probes)…\n", p.Geo.SrcNPix*p.Geo.SrcNPix, *probes)
		if kv, err = posterior.NewKrylovEvidence(p.Op, p.Y, p.SigmaN, p.Keep, pr.Gaussian,
			posterior.KrylovOptions{Probes: *probes, Samples: *stdSamples, Seed: *seed, Progress: env.stderr, Context: ctx}); err != nil {
			return err
		}
		ev = kv
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	best, bestEv, err := ev.Maximise(1e-3, 1e3)
	if err != nil {
		return err
	}
	a := 1.0
	if *optimise {
		a = best
	}
	var inv *posterior.Inversion
	if kv != nil {
		inv, err = kv.Posterior(a)
	} else {
		inv, err = ev.(*posterior.Evidence).Posterior(a, false)
	}
	if err != nil {
		return err
	}
	sum := invertSummary{Observation: p.ObsPath, Lens: p.LensPath, Prior: pr.Name, Amplitude: a, LogEvidence: ev.LogEvidence(a),
		BestAmplitude: best, BestLogEvidence: bestEv, Geometry: p.Geo, Method: *method}
	if kv != nil {
		sum.LogEvidenceErr, sum.StdSamples = kv.LogDetStdErr(a), *stdSamples
	}
	for i := 0; i <= 60; i++ {
		x := math.Pow(10, -3+6*float64(i)/60)
		sum.CurveAmplitude = append(sum.CurveAmplitude, x)
		sum.CurveLogEv = append(sum.CurveLogEv, ev.LogEvidence(x))
	}
	// Back to the observation's units: x = s·x', so p(y) = p(y')/s^ν over
	// the ν kept pixels.
	sum.Nu = len(p.Y)
	if p.Keep != nil {
		sum.Nu = p.Obs.KeptPixels()
	}
	dLog := -float64(sum.Nu) * math.Log(p.Norm)
	sum.LogEvidence += dLog
	sum.BestLogEvidence += dLog
	bestEv += dLog
	for i := range sum.CurveLogEv {
		sum.CurveLogEv[i] += dLog
	}
	p.toData(inv.Mean, inv.Std)
	buf := make([]float64, p.Geo.NPix*p.Geo.NPix)
	if sum.Chi2NuMean, sum.Nu, err = diag.ChiSquaredNu(p.Op, p.Y, inv.Mean, buf, p.noise()); err != nil {
		return err
	}
	n := p.Geo.SrcNPix
	for _, f := range []struct {
		name string
		d    []float64
	}{{"mean.fits", inv.Mean}, {"std.fits", inv.Std}} {
		h := fits.NewImage(n, n, f.d)
		h.Header.Set(kwSrcScale, p.Geo.SrcScale, "source pixel scale [arcsec]")
		h.Header.Set("PRIORAMP", a, "prior amplitude a (covariance a^2 Sigma0)")
		h.Header.Set("LOGEVID", sum.LogEvidence, "log evidence at PRIORAMP")
		if err := fits.WriteFile(filepath.Join(*out, f.name), []*fits.HDU{h}); err != nil {
			return err
		}
	}
	// Evidence curve, with the maximum marked.
	if err := plot.Curve(filepath.Join(*out, "evidence.png"), "Bayesian evidence against prior amplitude ("+pr.Name+")",
		"log10 prior amplitude a", "log evidence",
		plot.Series{Label: "log p(y | a)", X: log10s(sum.CurveAmplitude), Y: sum.CurveLogEv},
		plot.Series{Label: fmt.Sprintf("maximum a = %.3g", best), X: []float64{math.Log10(best), math.Log10(best)}, Y: []float64{minOf(sum.CurveLogEv), bestEv}, Dashed: true}); err != nil {
		return err
	}
	sum.WallSeconds = time.Since(start).Seconds()
	if err := experiment.WriteJSON(filepath.Join(*out, "summary.json"), sum); err != nil {
		return err
	}
	errNote := ""
	if kv != nil {
		errNote = fmt.Sprintf(" ± %.2f", sum.LogEvidenceErr)
	}
	fmt.Fprintf(env.stdout, "wrote %s: log evidence %.2f%s at a=%g (maximum %.2f at a=%.3g), χ²_ν of the mean %.3f (%s, %.1f s)\n",
		*out, sum.LogEvidence, errNote, a, bestEv, best, sum.Chi2NuMean, *method, sum.WallSeconds)
	return nil
}

func log10s(v []float64) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = math.Log10(x)
	}
	return o
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}
