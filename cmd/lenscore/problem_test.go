package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/observation"
)

// TestBadProblemFlagBlamed checks that an invalid --noise-sigma (and the
// other geometry flags) is reported as the flag's fault, not the header
// keyword's (issue 16).
func TestBadProblemFlagBlamed(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	for _, c := range []struct{ flag, value, keyword string }{
		{"noise-sigma", "-1", "NOISESIG"},
		{"pixel-scale", "-0.1", "PIXSCALE"},
		{"source-pixel-scale", "NaN", "SRCSCALE"},
		{"psf-fwhm", "-2", "PSFFWHM"},
	} {
		for _, cmd := range []string{"sample", "invert"} {
			out := filepath.Join(dir, "out-"+cmd+"-"+c.flag)
			args := []string{cmd, "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--" + c.flag, c.value, "--out", out}
			code, _, stderr := runCLI(t, args...)
			if code != 1 || !strings.Contains(stderr, "--"+c.flag) || strings.Contains(stderr, c.keyword) {
				t.Errorf("%s --%s %s: exit %d, stderr %q; want exit 1 naming --%s and not %s", cmd, c.flag, c.value, code, stderr, c.flag, c.keyword)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s --%s: output written", cmd, c.flag)
			}
		}
	}
}

// TestSourceNormUnits checks that an observation in other units gives the
// same source in those units: the data ×100 with SRCNORM 100 inverts to
// the mean ×100, the same χ²_ν and the log evidence shifted by −ν ln 100.
func TestSourceNormUnits(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	o, err := observation.Read(obsPath)
	if err != nil {
		t.Fatal(err)
	}
	const s = 100.0
	scaleSlice(o.Image, s)
	o.NoiseSigma *= s
	o.SourceNorm = s
	o.Unit = "electron/s"
	scaled := filepath.Join(dir, "scaled.fits")
	if err := o.Write(scaled); err != nil {
		t.Fatal(err)
	}
	run := func(obs, out string, extra ...string) invertSummary {
		mustRun(t, append([]string{"invert", "--obs", obs, "--lens", lensPath, "--prior-sigma", "0.3", "--out", out}, extra...)...)
		var sum invertSummary
		b, err := os.ReadFile(filepath.Join(out, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		return sum
	}
	a := run(obsPath, filepath.Join(dir, "a"))
	b := run(scaled, filepath.Join(dir, "b"))
	ma := readHDUs(t, filepath.Join(dir, "a", "mean.fits"))[0].Data
	mb := readHDUs(t, filepath.Join(dir, "b", "mean.fits"))[0].Data
	for i := range ma {
		if math.Abs(mb[i]-s*ma[i]) > 1e-9*s*(1+math.Abs(ma[i])) {
			t.Fatalf("mean pixel %d: %g, want %g", i, mb[i], s*ma[i])
		}
	}
	if math.Abs(a.Chi2NuMean-b.Chi2NuMean) > 1e-9 {
		t.Errorf("χ²_ν %g vs %g", a.Chi2NuMean, b.Chi2NuMean)
	}
	if want := a.LogEvidence - float64(a.Nu)*math.Log(s); math.Abs(b.LogEvidence-want) > 1e-6*math.Abs(want) {
		t.Errorf("log evidence %g, want %g", b.LogEvidence, want)
	}
	if b.Geometry.SourceNorm != s || b.Geometry.SourceNormFrom != "header" || b.Geometry.Unit != "electron/s" {
		t.Errorf("summary geometry %+v", b.Geometry)
	}
	// auto: the peak of the Gaussian-prior inversion, recorded.
	var truePeak float64
	for _, v := range o.Truth {
		truePeak = math.Max(truePeak, s*v)
	}
	c := run(scaled, filepath.Join(dir, "c"), "--source-norm", "auto")
	if c.Geometry.SourceNormFrom != "auto" || !(c.Geometry.SourceNorm > truePeak/2 && c.Geometry.SourceNorm < 2*truePeak) {
		t.Errorf("auto normalisation %g (%s), want near the true source peak %g", c.Geometry.SourceNorm, c.Geometry.SourceNormFrom, truePeak)
	}
	mc := readHDUs(t, filepath.Join(dir, "c", "mean.fits"))[0].Data
	var peak float64
	for _, v := range mc {
		peak = math.Max(peak, v)
	}
	if peak < truePeak/2 || peak > 2*truePeak {
		t.Errorf("auto: mean peak %g not in the data's units (true peak %g)", peak, truePeak)
	}
}
