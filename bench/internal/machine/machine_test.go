package machine

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{5}, 5}} {
		in := append([]float64(nil), c.in...)
		if got := Median(in); got != c.want {
			t.Errorf("Median(%v) = %g, want %g", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Fatalf("Median modified its input: %v", in)
			}
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot("test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil || !strings.HasSuffix(filepath.ToSlash(mustWd(t)), "bench/internal/machine") || filepath.Join(root, "bench", "internal", "machine") != mustWd(t) {
		t.Errorf("ModuleRoot = %s from %s", root, mustWd(t))
	}
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := ModuleRoot("netbench"); err == nil || !strings.Contains(err.Error(), "run netbench inside") {
		t.Errorf("outside a module: %v", err)
	}
}

func mustWd(t *testing.T) string {
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
