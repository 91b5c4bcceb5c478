package experiment

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cancelAfter is a progress writer that cancels a context once a line
// containing marker has been written, and counts lines containing count.
type cancelAfter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if c.cancel != nil && c.marker != "" && bytes.Contains(p, []byte(c.marker)) {
		c.cancel()
	}
	return len(p), nil
}

func (c *cancelAfter) count(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Count(c.buf.String(), s)
}

// TestCoverageResume interrupts a coverage run after its second lens,
// resumes it, and checks that the result equals an uninterrupted run's
// bit for bit (TARP f, χ²_ν, ECP), that the resumed run sampled only the
// missing lenses, that a finished run extends to more lenses sampling only
// the new ones, and that stored lenses of other settings, damaged files and
// a fresh run's stale files are handled.
func TestCoverageResume(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	const J, K = 4, 2
	o := CoverageOptions{Lenses: J, Samples: K, Steps: 6, SigmaN: 0.05, Bootstrap: 10, NullDraws: 50}
	ref, err := Coverage(context.Background(), s, o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelAfter{marker: "lens 2/4 done", cancel: cancel}
	s1 := s
	s1.Progress = w
	if _, err := Coverage(ctx, s1, o, dir); err == nil {
		t.Fatal("interrupted run returned no error")
	}
	ents, _ := os.ReadDir(filepath.Join(dir, PartsDir))
	if len(ents) != 2 {
		t.Fatalf("interrupted after lens 2: %d files in %s, want 2", len(ents), PartsDir)
	}
	if _, err := os.Stat(filepath.Join(dir, "coverage.json")); err == nil {
		t.Error("interrupted run wrote coverage.json")
	}

	w2 := &cancelAfter{}
	s2 := s
	s2.Progress = w2
	o2 := o
	o2.Resume = true
	got, err := Coverage(context.Background(), s2, o2, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := w2.count(" done: "); n != J-2 {
		t.Errorf("resumed run sampled %d lenses, want %d\n%s", n, J-2, w2.buf.String())
	}
	same := func(what string, a, b *CoverageResult) {
		t.Helper()
		for j := range J {
			if a.PerLens[j].F != b.PerLens[j].F || a.PerLens[j].Chi2NuAvg != b.PerLens[j].Chi2NuAvg {
				t.Errorf("%s lens %d: f %g χ² %g, uninterrupted %g %g", what, j, a.PerLens[j].F, a.PerLens[j].Chi2NuAvg,
					b.PerLens[j].F, b.PerLens[j].Chi2NuAvg)
			}
		}
		if a.Averaged == nil || b.Averaged == nil || a.Averaged.MaxDev != b.Averaged.MaxDev || a.Averaged.PValue != b.Averaged.PValue {
			t.Errorf("%s: averaged TARP %+v, uninterrupted %+v", what, a.Averaged, b.Averaged)
		}
		if a.MaxDev != b.MaxDev || a.SpreadSkill != b.SpreadSkill || a.Timing.NFE != b.Timing.NFE {
			t.Errorf("%s: max dev %g spread–skill %g NFE %d, uninterrupted %g %g %d", what, a.MaxDev, a.SpreadSkill,
				a.Timing.NFE, b.MaxDev, b.SpreadSkill, b.Timing.NFE)
		}
	}
	same("resumed", got, ref)

	// Extending the finished run to 6 lenses samples lenses 5 and 6 only,
	// and its first 4 lenses are those of the 4-lens run.
	w3 := &cancelAfter{}
	s3 := s
	s3.Progress = w3
	o3 := o2
	o3.Lenses = 6
	ext, err := Coverage(context.Background(), s3, o3, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := w3.count(" done: "); n != 2 {
		t.Errorf("extension sampled %d lenses, want 2", n)
	}
	fresh, err := Coverage(context.Background(), s, CoverageOptions{Lenses: 6, Samples: K, Steps: 6, SigmaN: 0.05,
		Bootstrap: 10, NullDraws: 50}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for j := range 6 {
		if ext.PerLens[j].Chi2NuAvg != fresh.PerLens[j].Chi2NuAvg {
			t.Errorf("extended lens %d: χ² %g, a fresh 6-lens run %g", j, ext.PerLens[j].Chi2NuAvg, fresh.PerLens[j].Chi2NuAvg)
		}
	}

	// Other settings: the stored lens is refused, naming the file.
	o4 := o2
	o4.Steps = 7
	if _, err := Coverage(context.Background(), s, o4, dir); err == nil ||
		!strings.Contains(err.Error(), "lens-00000.fits") || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("resume with other steps: %v", err)
	}
	// A damaged file is refused, naming it.
	p := partPath(dir, 1)
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Coverage(context.Background(), s, o2, dir); err == nil || !strings.Contains(err.Error(), "lens-00001.fits") {
		t.Errorf("resume with a truncated lens file: %v", err)
	}
	// A fresh run (no Resume) replaces the stored lenses, damaged or not.
	again, err := Coverage(context.Background(), s, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	same("fresh over old files", again, ref)
	if ents, _ := os.ReadDir(filepath.Join(dir, PartsDir)); len(ents) != J {
		t.Errorf("fresh 4-lens run left %d lens files", len(ents))
	}
}
