package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
)

// scanSummary is DIR/scan.json of fit-lens --scan.
type scanSummary struct {
	Scan        *lensfit.ScanResult `json:"scan"`
	Observation string              `json:"observation"`
	Lens        string              `json:"lens"`
	SourcePrior string              `json:"source_prior"`
	Geometry    geometry            `json:"geometry"`
	Log10Scale  float64             `json:"log10_source_scale"`
	Backend     string              `json:"linalg_backend"`
}

// runLensScan is fit-lens --scan: 1-D scans of the log posterior through
// the starting lens (at log10 a = --source-scale, or with --scan-scale
// optimise the type-II maximum-likelihood amplitude there) along every free lens
// parameter, with the ripples left by a quartic fit (lensfit.Scan). It
// writes DIR/scan.json and DIR/scan.png and prints one line per parameter.
func runLensScan(ctx context.Context, env *cliEnv, obj *lensfit.Objective, prior posterior.GaussianPrior, optScale bool, sum scanSummary, points int, halfSigma float64, out string) error {
	if _, err := os.Stat(filepath.Join(out, "scan.json")); err == nil {
		return fmt.Errorf("%s already holds a scan (scan.json); choose another --out", out)
	}
	if optScale {
		h, err := lensfit.OptimiseHyper(ctx, obj.Ev, prior, obj.Base, obj.Extra, nil, 0, 0)
		if err != nil {
			return err
		}
		obj.Scale = h.Log10Scale
		fmt.Fprintf(env.stderr, "log10 a at the lens by type-II maximum likelihood: %.4f (%d evaluations)\n", h.Log10Scale, h.Evaluations)
	}
	sum.Log10Scale = obj.Scale
	at := obj.Pack(obj.Base, obj.Scale)
	fmt.Fprintf(env.stderr, "fit-lens --scan: %d points along each of %d parameters, %d² source at %g″, supersampling %d…\n",
		points, len(obj.Names())-map[bool]int{true: 1, false: 0}[obj.FitScale], sum.Geometry.SrcNPix, sum.Geometry.SrcScale, sum.Geometry.Super)
	res, err := lensfit.Scan(ctx, obj, at, lensfit.ScanOptions{Points: points, HalfSigma: halfSigma, Progress: env.stderr})
	if err != nil {
		return err
	}
	sum.Scan = res
	var series []plot.Series
	for _, ln := range res.Lines {
		u, r := make([]float64, len(ln.Offset)), make([]float64, len(ln.Offset))
		for i, x := range ln.Offset {
			u[i], r[i] = x/ln.Half, ln.LogPost[i]-ln.Smooth[i]
		}
		series = append(series, plot.Series{Label: fmt.Sprintf("%s (±%.3g)", ln.Name, ln.Half), X: u, Y: r})
	}
	title := fmt.Sprintf("log posterior − quartic fit: %d² source at %g″, supersampling %d", sum.Geometry.SrcNPix, sum.Geometry.SrcScale, sum.Geometry.Super)
	if err := plot.Curve(filepath.Join(out, "scan.png"), title, "offset / half-width", "ripple (log units)", series...); err != nil {
		return err
	}
	if err := experiment.WriteJSON(filepath.Join(out, "scan.json"), sum); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%-10s %12s %10s %10s %10s %10s\n", "parameter", "centre", "±half", "σ_smooth", "ripple_rms", "ripple_max")
	for _, ln := range res.Lines {
		fmt.Fprintf(env.stdout, "%-10s %12.5f %10.4g %10.3g %10.3f %10.3f\n", ln.Name, ln.Center, ln.Half, ln.Sigma, ln.RMS, ln.Max)
	}
	fmt.Fprintf(env.stdout, "all: ripple rms %.3f, max %.3f; %d evaluations, %.3f s each (wall); wrote %s\n",
		res.RMS, res.Max, res.Evaluations, res.SecondsPerEval, filepath.Join(out, "scan.json"))
	return nil
}
