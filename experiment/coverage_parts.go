package experiment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/fits"
)

// PartsDir is the sub-folder of a coverage run's output directory that holds
// one FITS file per finished lens (lens-00007.fits for j = 7, the 8th: the true source in the
// primary HDU, the K samples as a cube in the SAMPLES extension, the run's
// fingerprint and the lens's timing in the header). The files let an
// interrupted run continue (CoverageOptions.Resume) and a finished one be
// extended to more lenses: lens j's lens parameters, noise and sampler seed
// depend on j and the seed only, never on the number of lenses.
const PartsDir = "coverage_parts"

// coverageFingerprint hashes every setting that decides the samples of a
// lens, so that a resumed run never mixes lenses of different settings. The
// number of lenses enters only when the truths are one batch of prior draws
// (then lens j's truth depends on it).
func coverageFingerprint(s Setup, o CoverageOptions, priorBatch bool) string {
	type fp struct {
		Prior                       string
		SigmaMin, SigmaMax          float64
		Side, NPix, Supersample     int
		SrcScale, PixScale, PSFFWHM float64
		Seed                        uint64
		Samples, Steps              int
		Sampler                     string
		Denoise                     bool
		SigmaN                      float64
		Likelihood                  string
		JacobianBelow               float64
		Exact, TruthFromPrior       bool
		PriorBatch                  int
	}
	v := fp{Prior: s.PriorName, SigmaMin: s.VE.SigmaMin, SigmaMax: s.VE.SigmaMax,
		Side: s.Side, NPix: s.NPix, Supersample: s.Supersample,
		SrcScale: s.SrcScale, PixScale: s.PixScale, PSFFWHM: s.PSFFWHM, Seed: s.Seed,
		Samples: o.Samples, Steps: o.Steps, Sampler: o.Sampler, Denoise: o.Denoise, SigmaN: o.SigmaN,
		Likelihood: o.Likelihood, Exact: o.ExactLikelihood, TruthFromPrior: o.TruthFromPrior}
	if o.likelihoodKind().PriorJacobian() {
		v.JacobianBelow = o.JacobianBelow
	}
	if priorBatch {
		v.PriorBatch = o.Lenses
	}
	b, _ := json.Marshal(v) // a struct of numbers, strings and bools: cannot fail
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// coveragePart is what a finished lens leaves in PartsDir.
type coveragePart struct {
	Samples      [][]float64
	CGIterations float64
	Timing       Timing
}

func partPath(dir string, j int) string {
	return filepath.Join(dir, PartsDir, fmt.Sprintf("lens-%05d.fits", j))
}

// clearParts removes the lens files of an earlier run in dir (a fresh run
// replaces them, as it replaces coverage.json).
func clearParts(dir string) error {
	pd := filepath.Join(dir, PartsDir)
	if err := os.MkdirAll(pd, 0o755); err != nil {
		return fmt.Errorf("experiment: coverage: %w", err)
	}
	ents, err := os.ReadDir(pd)
	if err != nil {
		return fmt.Errorf("experiment: coverage: %w", err)
	}
	for _, e := range ents {
		if name := e.Name(); strings.HasPrefix(name, "lens-") && strings.HasSuffix(name, ".fits") {
			if err := os.Remove(filepath.Join(pd, name)); err != nil {
				return fmt.Errorf("experiment: coverage: %w", err)
			}
		}
	}
	return nil
}

// writePart stores lens j atomically (fits.WriteFile: temporary file, then
// rename), so an interruption leaves either the whole lens or none of it.
func writePart(dir string, j int, fingerprint string, side int, truth []float64, part coveragePart) error {
	n := side * side
	h0 := fits.NewImage(side, side, truth)
	h0.Name = "TRUTH"
	h0.Header.Set("FPRINT", fingerprint, "lenscore coverage run fingerprint")
	h0.Header.Set("LENS", j, "lens index (0-based)")
	h0.Header.Set("CGITER", part.CGIterations, "mean CG iterations per likelihood score")
	h0.Header.Set("STEPS", part.Timing.Steps, "reverse-time steps")
	h0.Header.Set("NFE", part.Timing.NFE, "network evaluations")
	h0.Header.Set("WALLSEC", part.Timing.WallSeconds, "wall time of the lens's sampling [s]")
	h0.Header.Set("PRIORSEC", part.Timing.PriorSeconds, "time in the prior's score [s]")
	h0.Header.Set("OTHERSEC", part.Timing.OtherSeconds, "time in the rest of the sampler [s]")
	sm := make([]float64, 0, len(part.Samples)*n)
	for _, x := range part.Samples {
		sm = append(sm, x...)
	}
	h1 := fits.NewCube(side, side, len(part.Samples), sm)
	h1.Name = "SAMPLES"
	if err := fits.WriteFile(partPath(dir, j), []*fits.HDU{h0, h1}); err != nil {
		return fmt.Errorf("experiment: coverage: %w", err)
	}
	return nil
}

// errNoPart reports that lens j has not been stored yet.
var errNoPart = errors.New("no stored lens")

// readPart loads lens j from PartsDir and checks that it belongs to this
// run: the same fingerprint, lens index, true source (bit for bit) and K
// samples of the right size, all finite. It returns errNoPart when the file
// does not exist, and an error naming the file otherwise.
func readPart(dir string, j int, fingerprint string, side, K int, truth []float64) (*coveragePart, error) {
	path := partPath(dir, j)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, errNoPart
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("experiment: coverage: resume: %s: %s", path, fmt.Sprintf(format, args...))
	}
	hdus, err := fits.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("experiment: coverage: resume: %w", err)
	}
	tr, ok1 := fits.ByName(hdus, "TRUTH")
	sm, ok2 := fits.ByName(hdus, "SAMPLES")
	if !ok1 || !ok2 {
		return nil, bad("no TRUTH image and SAMPLES cube")
	}
	fp, _, _ := tr.Header.String("FPRINT")
	if fp != fingerprint {
		return nil, bad("written by a run with other settings (fingerprint %q, this run %q); use another --out or the same settings", fp, fingerprint)
	}
	if l, ok, _ := tr.Header.Int("LENS"); !ok || int(l) != j {
		return nil, bad("LENS keyword %d, want %d", l, j)
	}
	n := side * side
	if len(tr.Shape) != 2 || tr.Shape[0] != side || tr.Shape[1] != side || len(sm.Shape) != 3 ||
		sm.Shape[0] != side || sm.Shape[1] != side || sm.Shape[2] != K {
		return nil, bad("TRUTH %v and SAMPLES %v, want %d×%d and %d×%d×%d", tr.Shape, sm.Shape, side, side, side, side, K)
	}
	for i, v := range tr.Data {
		if v != truth[i] {
			return nil, bad("true source differs from this run's at pixel %d (%g, now %g): other galaxies or data", i, v, truth[i])
		}
	}
	for i, v := range sm.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, bad("sample %d has a non-finite pixel", i/n)
		}
	}
	p := &coveragePart{}
	for k := range K {
		p.Samples = append(p.Samples, sm.Data[k*n:(k+1)*n])
	}
	num := func(key string) float64 {
		v, ok, err := tr.Header.Float(key)
		if !ok || err != nil {
			return math.NaN()
		}
		return v
	}
	p.CGIterations = num("CGITER")
	p.Timing = Timing{Steps: int(num("STEPS")), NFE: int(num("NFE")), WallSeconds: num("WALLSEC"),
		PriorSeconds: num("PRIORSEC"), OtherSeconds: num("OTHERSEC")}
	return p, nil
}
