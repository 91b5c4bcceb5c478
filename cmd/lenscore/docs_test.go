package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/lens"
)

// TestDocsLensFiles: every lens file shown in docs/lens-files.md and in the
// README parses, and one without a centre field is refused as the page
// says.
func TestDocsLensFiles(t *testing.T) {
	var examples []string
	page, err := os.ReadFile("../../docs/lens-files.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(page), -1) {
		examples = append(examples, m[1])
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.ReplaceAll(string(readme), "\n", " ")
	for _, m := range regexp.MustCompile("`(\\{\"components\".*?\\]\\})`").FindAllStringSubmatch(flat, -1) {
		examples = append(examples, m[1])
	}
	if len(examples) < 4 {
		t.Fatalf("found %d lens-file examples, want the 2 of docs/lens-files.md and the 2 of the README", len(examples))
	}
	for _, e := range examples {
		if _, err := lens.Parse(strings.NewReader(e), "example"); err != nil {
			t.Errorf("%v\n%s", err, e)
		}
	}
	noCentre := `{"components": [{"type": "SIS", "theta_e": 1.0, "center_x": 0}]}`
	if _, err := lens.Parse(strings.NewReader(noCentre), "x"); err == nil || !strings.Contains(err.Error(), "center_y") {
		t.Errorf("a lens without center_y: %v", err)
	}
}

// TestDemoOutputIgnored: the demo's default output folder is in .gitignore,
// so running the demo in a checkout leaves git status clean.
func TestDemoOutputIgnored(t *testing.T) {
	code, _, errs := runCLI(t, "demo", "--help")
	if code != 0 {
		t.Fatal(errs)
	}
	m := regexp.MustCompile(`-out string\n\s+output directory \(default "([^"]+)"\)`).FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("demo --help shows no default --out:\n%s", errs)
	}
	out := m[1]
	gi, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(gi), "\n") {
		if l := strings.TrimSpace(line); l == out+"/" || l == "/"+out+"/" || l == out {
			return
		}
	}
	t.Errorf(".gitignore does not ignore the demo's output folder %s/", out)
}
