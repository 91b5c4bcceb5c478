package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/shard"
	"github.com/lenscore/lenscore/survey"
)

// surveyColumns are the results shown in survey.md.
var surveyColumns = []string{"samples", "chi2_nu_of_mean", "chi2_nu_median", "diverged", "fit_theta_e_mean", "fit_theta_e_std", "wall_seconds"}

// surveyFitDir is the folder of a lens's fit-lens run inside its folder.
const surveyFitDir = "fit"

func runSurvey(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "survey", "--catalog C.jsonl --out DIR [--shard i/N|slurm] [-- sample flags for every lens, e.g. --model M --steps auto/8]")
	catalog := fs.String("catalog", "", "catalogue, one JSON object per line: {\"name\": …, \"obs\": …, \"lens\": … or \"fit_lens\": {\"lens_init\": …, \"args\": {fit-lens flag: value}}, \"args\": {sample flag: value}}")
	out := fs.String("out", "", "survey folder: one sub-folder per lens, survey.json, survey.md, survey.png")
	shardFlag := fs.String("shard", "", "run only the lenses of shard i/N (lines i, i+N, …; slurm: from the Slurm array task's environment)")
	var sampleArgs []string
	for i, a := range args {
		if a == "--" {
			args, sampleArgs = args[:i], args[i+1:]
			break
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "catalog", "out"); err != nil {
		return err
	}
	spec := shard.Spec{Index: 0, Count: 1}
	if *shardFlag != "" {
		s, err := shard.Parse(*shardFlag, os.Getenv)
		if err != nil {
			return fmt.Errorf("--shard: %w", err)
		}
		spec = s
	}
	if err := checkSurveySampleArgs(sampleArgs); err != nil {
		return err
	}
	cat, err := survey.ReadCatalog(*catalog)
	if err != nil {
		return err
	}
	for i := range cat.Entries {
		e := &cat.Entries[i]
		if err := checkSurveySampleArgs(e.FlagArgs()); err != nil {
			return fmt.Errorf("%s:%d: args: %w", *catalog, e.Line, err)
		}
		if e.FitLens != nil {
			if err := checkSurveyFitArgs(ctx, e.FitLens.Args); err != nil {
				return fmt.Errorf("%s:%d: fit_lens args: %w", *catalog, e.Line, err)
			}
		}
	}
	if spec.Count > len(cat.Entries) {
		return fmt.Errorf("--shard %s: %d shards for %d lenses; use at most as many shards as lenses", spec, spec.Count, len(cat.Entries))
	}
	if err := applySlurmThreads(env); err != nil {
		return err
	}
	if err := survey.Prepare(*out, cat, sampleArgs); err != nil {
		return err
	}
	// Shards of one survey share the folder, each running its own lenses; a
	// second copy of the same shard is refused.
	rl, err := lockOutDirShared(*out, dirlock.DefaultName)
	if err != nil {
		return err
	}
	defer rl.Release()
	lk, err := lockOutDir(*out, fmt.Sprintf("survey-%04d-of-%04d", spec.Index, spec.Count))
	if err != nil {
		return err
	}
	defer lk.Release()
	items := spec.Items(len(cat.Entries))
	fmt.Fprintf(env.stderr, "survey %s: shard %s runs %d of %d lenses into %s\n", *catalog, spec, len(items), len(cat.Entries), *out)
	fn := func(ctx context.Context, e *survey.Entry, dir string, resume bool) (map[string]any, error) {
		perLens := append(append([]string{}, sampleArgs...), e.FlagArgs()...)
		var fit map[string]any
		lensArgs := []string{"--lens", e.Lens}
		if e.FitLens != nil {
			fd := filepath.Join(dir, surveyFitDir)
			if err := surveyFitLens(ctx, env, e, fd, perLens); err != nil {
				return nil, err
			}
			var err error
			if fit, err = fitResults(fd); err != nil {
				return nil, err
			}
			lensArgs = []string{"--lens", filepath.Join(fd, "lens.json"), "--lens-samples", filepath.Join(fd, "lens_samples.jsonl")}
		}
		a := append(append(perLens, "--obs", e.Obs), append(lensArgs, "--out", dir)...)
		for _, f := range []string{checkpointFile, lensDrawsDir} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				a = append(a, "--resume")
				break
			}
		}
		if err := runQuiet(ctx, env, "sample", runSample, a); err != nil {
			return nil, err
		}
		res, err := lensResults(dir)
		if err != nil {
			return nil, err
		}
		for k, v := range fit {
			res[k] = v
		}
		return res, nil
	}
	done, failed, rerr := survey.RunLenses(ctx, *out, cat, items, fn, env.stderr)
	if err := writeSurveyIndex(env, *out, cat); err != nil && rerr == nil {
		rerr = err
	}
	fmt.Fprintf(env.stdout, "survey shard %s: %d of %d lenses done, %d failed; index %s\n", spec, done, len(items), failed, filepath.Join(*out, survey.IndexFile))
	if failed > 0 {
		fmt.Fprintf(env.stderr, "survey: %d lenses failed; their errors are in %s (a re-run retries them)\n", failed, filepath.Join(*out, survey.TableFile))
	}
	return rerr
}

// checkSurveySampleArgs parses sampling flags as sample would, without the
// per-lens ones, so that a typo fails before any lens runs.
func checkSurveySampleArgs(args []string) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	var msg bytes.Buffer
	fs.SetOutput(&msg)
	addProblemFlags(fs)
	addPriorFlags(fs, "gaussian", true)
	addSamplerFlags(fs, 16, "auto")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("sampling flags after --: %v", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sampling flags after --: unexpected argument %q", fs.Arg(0))
	}
	for _, n := range []string{"obs", "lens", "resume"} {
		if flagValue(args, n) != "" {
			return fmt.Errorf("sampling flags after --: --%s is set per lens by the survey", n)
		}
	}
	return nil
}

// runQuiet runs a command in-process for the survey, turning a usage error
// into an error carrying the command's first complaint.
func runQuiet(ctx context.Context, env *cliEnv, name string, cmd func(context.Context, *cliEnv, []string) error, args []string) error {
	var tail bytes.Buffer
	sub := &cliEnv{stdout: env.stdout, stderr: io.MultiWriter(env.stderr, &tail)}
	if err := cmd(ctx, sub, args); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			first, _, _ := strings.Cut(tail.String(), "\n")
			return fmt.Errorf("%s flags: %s", name, first)
		}
		return err
	}
	return nil
}

// checkSurveyFitArgs parses a line's fit-lens flags as fit-lens does, so
// that a typo fails before any lens runs: fit-lens is called without
// --obs, and a parse that succeeds stops at the missing flag.
func checkSurveyFitArgs(ctx context.Context, args []string) error {
	var msg bytes.Buffer
	err := runFitLens(ctx, &cliEnv{stdout: io.Discard, stderr: &msg}, args)
	first, _, _ := strings.Cut(msg.String(), "\n")
	switch {
	case errors.Is(err, errUsage) && strings.HasPrefix(first, "missing required flag"):
		return nil
	case errors.Is(err, flag.ErrHelp):
		return errors.New("-h/--help is not a fit-lens setting")
	case err == nil:
		return errors.New("fit-lens ran without an observation") // cannot happen: --obs is required
	case first != "":
		return errors.New(first)
	}
	return err
}

// surveyProblemArgs returns the observation flags (noise, PSF, mask,
// geometry) among sampling flags: the fit of a lens sees the observation as
// its sampling does.
func surveyProblemArgs(args []string) []string {
	all := flag.NewFlagSet("sample", flag.ContinueOnError)
	all.SetOutput(io.Discard)
	addProblemFlags(all)
	addPriorFlags(all, "gaussian", true)
	addSamplerFlags(all, 16, "auto")
	if all.Parse(args) != nil {
		return nil // checked before: cannot happen
	}
	prob := flag.NewFlagSet("problem", flag.ContinueOnError)
	addProblemFlags(prob)
	var out []string
	all.Visit(func(f *flag.Flag) {
		if prob.Lookup(f.Name) != nil && f.Name != "obs" && f.Name != "lens" {
			out = append(out, "--"+f.Name+"="+f.Value.String())
		}
	})
	return out
}

// surveyFitLens runs fit-lens for a fit_lens line into fd: skipped when a
// finished fit is there, resumed when an interrupted one is.
func surveyFitLens(ctx context.Context, env *cliEnv, e *survey.Entry, fd string, sampleArgs []string) error {
	_, errCk := os.Stat(filepath.Join(fd, "checkpoint.json"))
	_, errSum := os.Stat(filepath.Join(fd, "summary.json"))
	if errCk != nil && errSum == nil {
		fmt.Fprintf(env.stderr, "survey: lens %s: fit in %s already done\n", e.Name, fd)
		return nil
	}
	a := append(surveyProblemArgs(sampleArgs), e.FitLens.Args...)
	a = append(a, "--obs", e.Obs, "--lens-init", e.FitLens.LensInit, "--out", fd)
	if errCk == nil {
		a = append(a, "--resume")
	}
	fmt.Fprintf(env.stderr, "survey: lens %s: fit-lens into %s\n", e.Name, fd)
	if err := runQuiet(ctx, env, "fit-lens", runFitLens, a); err != nil {
		return fmt.Errorf("fit-lens: %w", err)
	}
	return nil
}

// fitResults reads the fitted lens from a fit-lens summary into the values
// survey.json records.
func fitResults(fd string) (map[string]any, error) {
	path := filepath.Join(fd, "summary.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sum fitLensSummary
	if err := json.Unmarshal(b, &sum); err != nil || sum.Summary == nil {
		return nil, fmt.Errorf("%s: not a fit-lens summary: %v", path, err)
	}
	r := map[string]any{"fit_lens": filepath.Join(fd, "lens.json"), "fit_chi2_nu_map": finiteOrNil(sum.Chi2NuMAP),
		"fit_log_evidence_map": finiteOrNil(sum.LogEvidenceMAP), "fit_max_rhat": finiteOrNil(sum.MaxRHat), "fit_modes": len(sum.Modes)}
	for _, n := range lens.ParamNames {
		if ps, ok := sum.Parameters[n]; ok {
			r["fit_"+n+"_mean"], r["fit_"+n+"_std"] = finiteOrNil(ps.Mean), finiteOrNil(ps.Std)
		}
	}
	return r, nil
}

// finiteOrNil is x, or nil (JSON null) when x is NaN or infinite.
func finiteOrNil(x lensfit.F) any {
	if v := float64(x); !math.IsNaN(v) && !math.IsInf(v, 0) {
		return v
	}
	return nil
}

// lensResults reads a finished lens's summary and timing into the values
// survey.json records.
func lensResults(dir string) (map[string]any, error) {
	var sum sampleSummary
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "summary.json"), err)
	}
	r := map[string]any{"samples": sum.Samples, "chi2_nu_of_mean": sum.Chi2NuMean, "diverged": len(sum.Diverged), "prior": sum.Prior,
		"likelihood": sum.Likelihood, "steps": sum.Steps, "seed": sum.Seed, "chi2_nu_median": median(sum.Chi2Nu)}
	var ls struct {
		LensSamples string `json:"lens_samples"`
	}
	if json.Unmarshal(b, &ls) == nil && ls.LensSamples != "" {
		r["lens_samples"] = ls.LensSamples
	}
	var tm sampleTiming
	if b, err := os.ReadFile(filepath.Join(dir, "timing.json")); err == nil && json.Unmarshal(b, &tm) == nil {
		r["wall_seconds"] = tm.WallSeconds
	}
	return r, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ { // insertion sort: a few values
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// writeSurveyIndex rebuilds survey.json and survey.md from the lenses'
// status files, and survey.png: the posterior mean of every finished lens.
func writeSurveyIndex(env *cliEnv, dir string, cat *survey.Catalog) error {
	idx, err := survey.BuildIndex(dir, cat)
	if err != nil {
		return err
	}
	// The fitted lens's columns only when a lens was fitted.
	var shown []string
	for _, c := range surveyColumns {
		if !strings.HasPrefix(c, "fit_") || slices.ContainsFunc(idx.Entries, func(s *survey.Status) bool { return s.Results[c] != nil }) {
			shown = append(shown, c)
		}
	}
	if err := survey.WriteIndex(dir, idx, shown); err != nil {
		return err
	}
	var imgs [][]float64
	var titles []string
	side := 0
	for _, s := range idx.Entries {
		if s.Status != survey.Done {
			continue
		}
		hdus, err := fits.ReadFile(filepath.Join(dir, s.Name, "mean.fits"))
		if err != nil || len(hdus) == 0 || len(hdus[0].Shape) != 2 || hdus[0].Shape[0] != hdus[0].Shape[1] {
			continue
		}
		if side == 0 {
			side = hdus[0].Shape[0]
		}
		if hdus[0].Shape[0] != side {
			continue // the figure shows sources of the first lens's size
		}
		imgs = append(imgs, hdus[0].Data)
		t := s.Name
		if c, ok := s.Results["chi2_nu_of_mean"].(float64); ok {
			t += fmt.Sprintf(" χ²ν %.2f", c)
		}
		titles = append(titles, t)
	}
	if len(imgs) == 0 {
		return nil
	}
	cols := min(len(imgs), 6)
	if err := plot.Grid(filepath.Join(dir, "survey.png"), imgs, side, side, cols, titles); err != nil {
		fmt.Fprintf(env.stderr, "survey: figure: %v\n", err)
	}
	return nil
}

// mergeSurvey rebuilds a survey folder's index (the merge job of a survey
// array, once every shard has finished).
func mergeSurvey(env *cliEnv, dir string) error {
	cat, err := survey.ReadCatalog(filepath.Join(dir, survey.CatalogCopy))
	if err != nil {
		return err
	}
	var run survey.Run
	if b, err := os.ReadFile(filepath.Join(dir, survey.RunFile)); err == nil && json.Unmarshal(b, &run) == nil && run.Catalog != "" {
		cat.Path = run.Catalog // the catalogue's own name in the index
	}
	if err := writeSurveyIndex(env, dir, cat); err != nil {
		return err
	}
	var idx survey.Index
	b, err := os.ReadFile(filepath.Join(dir, survey.IndexFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return err
	}
	c := idx.Counts
	fmt.Fprintf(env.stdout, "survey %s: %d lenses: %d done, %d failed, %d running, %d interrupted, %d pending; see %s and %s\n",
		dir, idx.Lenses, c.Done, c.Failed, c.Running, c.Interrupted, c.Pending, filepath.Join(dir, survey.IndexFile), filepath.Join(dir, survey.TableFile))
	return nil
}
