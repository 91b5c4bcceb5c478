package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCoverageFlags checks the coverage flags of `lenscore experiment`:
// they are listed by --help, --null-draws maps 0 to "no null distribution"
// (experiment.CoverageOptions.NullDraws < 0) and passes positive counts
// through, and a negative or malformed count is rejected before any work.
func TestCoverageFlags(t *testing.T) {
	code, out, errs := runCLI(t, "experiment", "coverage", "--help")
	all := out + errs
	if code != 0 {
		t.Fatalf("experiment coverage --help: exit %d\n%s", code, all)
	}
	for _, f := range []string{"plain-ranks", "null-draws"} {
		if !strings.Contains(all, "  -"+f+"\n") && !strings.Contains(all, "  -"+f+" ") {
			t.Errorf("experiment coverage --help does not list -%s:\n%s", f, all)
		}
	}
	if !strings.Contains(all, "(default 2000)") {
		t.Errorf("--null-draws default 2000 not shown:\n%s", all)
	}
	for _, c := range []struct{ in, want int }{{0, -1}, {1, 1}, {2000, 2000}} {
		if got, err := nullDrawsOption(c.in); err != nil || got != c.want {
			t.Errorf("nullDrawsOption(%d) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := nullDrawsOption(-3); err == nil || !strings.Contains(err.Error(), "--null-draws") {
		t.Errorf("nullDrawsOption(-3): %v", err)
	}
	dir := filepath.Join(t.TempDir(), "exp")
	checkFails(t, errCase{"null-draws -1", []string{"experiment", "coverage", "--null-draws", "-1", "--out", dir}, 1, []string{"--null-draws", "-1"}}, "")
	checkFails(t, errCase{"null-draws abc", []string{"experiment", "coverage", "--null-draws", "abc", "--out", dir}, 2, []string{"null-draws", "abc"}}, "")
	checkFails(t, errCase{"plain-ranks value", []string{"experiment", "coverage", "--plain-ranks=maybe", "--out", dir}, 2, []string{"plain-ranks"}}, "")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("rejected flags created %s (%v)", dir, err)
	}
}
