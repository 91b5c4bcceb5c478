package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/survey"
)

// TestSurveyFitLens runs a survey whose catalogue fits one lens (the small
// simulated lens of the fit-lens tests, θ_E = 0.6″, from a start 12 % off),
// takes another from a lens file, and fails to fit a third (its start lies
// outside the field). It checks that the fit ran into LENS/fit and found
// θ_E, that the samples used its lens draws and equal a plain sample run
// with them, that survey.json records the fitted lens and the failure, and
// that a re-run skips the finished lenses and a finished fit.
func TestSurveyFitLens(t *testing.T) {
	dir := t.TempDir()
	obs, _ := fitObs(t, dir)
	writeText(t, dir, "far.json", strings.Replace(fitInitLens, `"center_x": 0,`, `"center_x": 5,`, 1))
	fitSettings := `"args": {"prior": "gaussian", "prior-sigma": 0.5, "starts": 2, "max-evals": 250, "walkers": 16, "steps": 16, "samples": 8, "seed": 4}`
	cat := writeText(t, dir, "cat.jsonl", `{"name": "fitted", "obs": "obs.fits", "fit_lens": {"lens_init": "init.json", `+fitSettings+`}}
{"name": "given", "obs": "obs.fits", "lens": "truth.json"}
{"name": "farstart", "obs": "obs.fits", "fit_lens": {"lens_init": "far.json", "args": ["--prior", "gaussian", "--prior-sigma=0.5"]}}
`)
	out := filepath.Join(dir, "survey")
	// 150 steps: few enough to be fast, enough for the samples to fit the
	// data (χ²_ν of the mean ≈ 5 under the fitted lens, ≈ 870 under the start).
	common := []string{"--", "--prior-sigma", "0.3", "--steps", "150", "--n-samples", "2"}
	code, o, e := runCLI(t, append([]string{"survey", "--catalog", cat, "--out", out}, common...)...)
	if code != 0 || !strings.Contains(o, "2 of 3 lenses done, 1 failed") {
		t.Fatalf("survey: exit %d\n%s\n%s", code, o, e)
	}
	fd := filepath.Join(out, "fitted", surveyFitDir)
	m, err := lens.ParseFile(filepath.Join(fd, "lens.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := lens.ParamsFromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(p[lens.PThetaE]/0.6 - 1); rel > 0.03 {
		t.Errorf("fitted MAP θ_E = %g, truth 0.6", p[lens.PThetaE])
	}
	draws := filepath.Join(fd, "lens_samples.jsonl")
	var sum struct {
		LensSamples string `json:"lens_samples"`
		LensIndex   []int  `json:"lens_index"`
	}
	readJSONFile(t, filepath.Join(out, "fitted", "summary.json"), &sum)
	if sum.LensSamples != draws || !reflect.DeepEqual(sum.LensIndex, []int{0, 1}) {
		t.Errorf("samples of the fitted lens: summary %+v, want the draws of %s", sum, draws)
	}
	// The same as sampling with the fit's draws by hand.
	ref := filepath.Join(dir, "ref")
	mustRun(t, "sample", "--obs", obs, "--lens-samples", draws, "--prior-sigma", "0.3", "--steps", "150", "--n-samples", "2", "--out", ref)
	a, _ := os.ReadFile(filepath.Join(ref, "samples.fits"))
	b, _ := os.ReadFile(filepath.Join(out, "fitted", "samples.fits"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("survey samples of the fitted lens differ from sample --lens-samples (%d vs %d bytes)", len(b), len(a))
	}
	var idx survey.Index
	readJSONFile(t, filepath.Join(out, survey.IndexFile), &idx)
	if len(idx.Entries) != 3 {
		t.Fatalf("survey.json: %+v", idx.Entries)
	}
	r := idx.Entries[0].Results
	mean, _ := r["fit_theta_e_mean"].(float64)
	std, _ := r["fit_theta_e_std"].(float64)
	chi2, _ := r["chi2_nu_of_mean"].(float64)
	if math.Abs(mean/0.6-1) > 0.03 || !(chi2 > 0 && chi2 < 10) || !(std > 0 && std < 0.05) || r["lens_samples"] != draws || r["samples"] != 2.0 ||
		r["fit_lens"] != filepath.Join(fd, "lens.json") || r["fit_chi2_nu_map"] == nil {
		t.Errorf("survey.json results of the fitted lens: %v", r)
	}
	if g := idx.Entries[1]; g.Status != survey.Done || g.Results["fit_theta_e_mean"] != nil || g.Results["lens_samples"] != nil {
		t.Errorf("lens-file line: %+v", g)
	}
	if f := idx.Entries[2]; f.Status != survey.Failed || !strings.Contains(f.Error, "fit-lens") || !strings.Contains(f.Error, "far.json") {
		t.Errorf("failed fit: %+v", f)
	}
	if tab, _ := os.ReadFile(filepath.Join(out, survey.TableFile)); !strings.Contains(string(tab), "fit_theta_e_mean") {
		t.Errorf("survey.md lacks the fitted θ_E:\n%s", tab)
	}
	// Without a fitted lens, survey.md has no fit columns.
	cat3 := writeText(t, dir, "cat3.jsonl", `{"name": "given", "obs": "obs.fits", "lens": "truth.json"}`+"\n")
	out3 := filepath.Join(dir, "survey3")
	mustRun(t, append([]string{"survey", "--catalog", cat3, "--out", out3}, common...)...)
	if tab, _ := os.ReadFile(filepath.Join(out3, survey.TableFile)); !strings.Contains(string(tab), "chi2_nu_of_mean") || strings.Contains(string(tab), "fit_") {
		t.Errorf("survey.md of lens files only:\n%s", tab)
	}
	// A re-run skips the finished lenses (the failed one is retried).
	st0, _ := os.Stat(draws)
	code, o, e = runCLI(t, append([]string{"survey", "--catalog", cat, "--out", out}, common...)...)
	if code != 0 || !strings.Contains(o, "2 of 3 lenses done, 1 failed") || !strings.Contains(e, "fitted already done") ||
		strings.Contains(e, "fit-lens into "+fd) {
		t.Errorf("re-run: exit %d\n%s\n%s", code, o, e)
	}
	// A lens whose sampling did not finish keeps its finished fit.
	if err := os.Remove(filepath.Join(out, "fitted", survey.StatusFile)); err != nil {
		t.Fatal(err)
	}
	code, o, e = runCLI(t, append([]string{"survey", "--catalog", cat, "--out", out}, common...)...)
	if code != 0 || !strings.Contains(e, "fit in "+fd+" already done") || strings.Contains(e, "fit-lens into "+fd) {
		t.Errorf("re-run of the lens: exit %d\n%s\n%s", code, o, e)
	}
	if st1, _ := os.Stat(draws); st0 == nil || st1 == nil || !st1.ModTime().Equal(st0.ModTime()) {
		t.Error("the finished fit was redone")
	}
	if b2, _ := os.ReadFile(filepath.Join(out, "fitted", "samples.fits")); !bytes.Equal(a, b2) {
		t.Error("re-sampled lens differs")
	}
	// A survey interrupted during the fit resumes it (fit-lens refuses an
	// unfinished fit without --resume) and ends with the same lens draws.
	cat2 := writeText(t, dir, "cat2.jsonl", `{"name": "fitted", "obs": "obs.fits", "fit_lens": {"lens_init": "init.json", `+fitSettings+`}}`+"\n")
	out2 := filepath.Join(dir, "survey2")
	ck := filepath.Join(out2, "fitted", surveyFitDir, "checkpoint.json")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // cancel once the first optimiser start is saved
		for ctx.Err() == nil {
			if _, err := os.Stat(ck); err == nil {
				cancel()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	args2 := append([]string{"survey", "--catalog", cat2, "--out", out2}, common...)
	var o2, e2 bytes.Buffer
	code = run(ctx, &cliEnv{stdout: &o2, stderr: &e2}, args2)
	cancel()
	var st survey.Status
	readJSONFile(t, filepath.Join(out2, "fitted", survey.StatusFile), &st)
	if code != 130 || st.Status != survey.Interrupted {
		t.Fatalf("interrupted survey: exit %d, status %q\n%s", code, st.Status, e2.String())
	}
	if _, err := os.Stat(ck); err != nil {
		t.Fatalf("no fit checkpoint after the interruption: %v", err)
	}
	mustRun(t, args2...)
	d1, _ := os.ReadFile(draws)
	d2, _ := os.ReadFile(filepath.Join(out2, "fitted", surveyFitDir, "lens_samples.jsonl"))
	if len(d1) == 0 || !bytes.Equal(d1, d2) {
		t.Errorf("resumed fit's lens draws differ from the uninterrupted fit's:\n%s\n%s", d1, d2)
	}
}

func TestSurveyFitLensErrors(t *testing.T) {
	dir := t.TempDir()
	smallObs(t, dir)
	out := filepath.Join(dir, "out")
	typo := writeText(t, dir, "typo.jsonl", "{\"obs\": \"obs.fits\", \"lens\": \"lens.json\"}\n{\"obs\": \"obs.fits\", \"fit_lens\": {\"lens_init\": \"lens.json\", \"args\": {\"startz\": 2}}}\n")
	badVal := writeText(t, dir, "badval.jsonl", "{\"obs\": \"obs.fits\", \"fit_lens\": {\"lens_init\": \"lens.json\", \"args\": [\"--starts\", \"two\"]}}\n")
	both := writeText(t, dir, "both.jsonl", "{\"obs\": \"obs.fits\", \"lens\": \"lens.json\", \"fit_lens\": {\"lens_init\": \"lens.json\"}}\n")
	good := writeText(t, dir, "good.jsonl", "{\"obs\": \"obs.fits\", \"lens\": \"lens.json\"}\n")
	for _, c := range []errCase{
		{name: "unknown fit-lens flag", args: []string{"survey", "--catalog", typo, "--out", out}, code: 1, want: []string{"typo.jsonl:2", "fit_lens args", "startz"}},
		{name: "bad fit-lens value", args: []string{"survey", "--catalog", badVal, "--out", out}, code: 1, want: []string{"badval.jsonl:1", "fit_lens args", `"two"`}},
		{name: "lens and fit_lens", args: []string{"survey", "--catalog", both, "--out", out}, code: 1, want: []string{"both.jsonl:1", "both lens and fit_lens"}},
		{name: "lens samples for every lens", args: []string{"survey", "--catalog", good, "--out", out, "--", "--lens-samples", "d.jsonl"}, code: 1, want: []string{"sampling flags", "lens-samples"}},
	} {
		checkFails(t, c, out)
	}
}

// The fit of a lens gets the observation flags among the sampling flags.
func TestSurveyProblemArgs(t *testing.T) {
	got := surveyProblemArgs([]string{"--prior-sigma", "0.3", "--noise-sigma", "0.05", "--steps=15", "--psf-fwhm=0.1", "--seed", "3", "--mask", "m.fits"})
	if want := []string{"--mask=m.fits", "--noise-sigma=0.05", "--psf-fwhm=0.1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("surveyProblemArgs = %q, want %q", got, want)
	}
}
