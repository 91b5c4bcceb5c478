package survey

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCat(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "cat.jsonl")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCatalog(t *testing.T) {
	dir := t.TempDir()
	p := writeCat(t, dir, `# a comment
{"name": "a", "obs": "a/obs.fits", "lens": "/abs/lens.json", "args": {"n-samples": 8, "denoise": true, "sampler": "pc", "noise-sigma": 0.025}}

{"obs": "b.fits", "lens": "b.json"}
`)
	c, err := ReadCatalog(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Entries) != 2 || c.Entries[0].Obs != filepath.Join(dir, "a/obs.fits") || c.Entries[0].Lens != "/abs/lens.json" ||
		c.Entries[1].Name != "lens-0004" || c.Entries[1].Line != 4 {
		t.Fatalf("entries %+v", c.Entries)
	}
	// fit_lens lines: lens_init resolves like lens; args as an object or a list.
	f, err := ReadCatalog(writeCat(t, dir, `{"name": "f", "obs": "o.fits", "fit_lens": {"lens_init": "start.json", "args": {"starts": 1, "free": "theta_e"}}}
{"name": "g", "obs": "o.fits", "fit_lens": {"lens_init": "/abs/start.json", "args": ["--starts", "1", "--seed=3"]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if fl := f.Entries[0].FitLens; f.Entries[0].Lens != "" || fl == nil || fl.LensInit != filepath.Join(dir, "start.json") || strings.Join(fl.Args, " ") != "--free=theta_e --starts=1" {
		t.Errorf("fit_lens object: %+v %+v", f.Entries[0], fl)
	}
	if fl := f.Entries[1].FitLens; fl == nil || fl.LensInit != "/abs/start.json" || strings.Join(fl.Args, " ") != "--starts 1 --seed=3" {
		t.Errorf("fit_lens list: %+v", fl)
	}
	got := strings.Join(c.Entries[0].FlagArgs(), " ")
	if want := "--denoise=true --n-samples=8 --noise-sigma=0.025 --sampler=pc"; got != want {
		t.Errorf("FlagArgs = %q, want %q", got, want)
	}
	for _, c := range []struct{ text, want string }{
		{"{\"obs\": \"x\", \"lens\": \"y\"}\nnot json\n", "cat.jsonl:2: not a JSON lens entry"},
		{`{"obs": "x", "lens": "y", "colour": 1}`, `cat.jsonl:1: not a JSON lens entry: json: unknown field "colour"`},
		{`{"obs": "x", "lens": "y"} {"obs": "z"}`, "more than one JSON value"},
		{"{\"name\": \"a\", \"obs\": \"x\", \"lens\": \"y\"}\n{\"name\": \"a\", \"obs\": \"x\", \"lens\": \"y\"}", `cat.jsonl:2: name "a" already used on line 1`},
		{`{"name": "../up", "obs": "x", "lens": "y"}`, "name \"../up\""},
		{`{"lens": "y"}`, "no obs"},
		{`{"obs": "x"}`, "cat.jsonl:1: no lens: give a lens file"},
		{`{"obs": "x", "fit_lens": {"model": "SIE"}}`, `cat.jsonl:1: not a JSON lens entry: json: unknown field "model"`},
		{`{"obs": "x", "fit_lens": {"args": {"starts": 1}}}`, "cat.jsonl:1: fit_lens: no lens_init"},
		{`{"obs": "x", "lens": "y", "fit_lens": {"lens_init": "s.json"}}`, "cat.jsonl:1: both lens and fit_lens"},
		{`{"obs": "x", "fit_lens": {"lens_init": "s.json", "args": {"out": "o"}}}`, `fit_lens args may not set "out"`},
		{`{"obs": "x", "fit_lens": {"lens_init": "s.json", "args": ["--lens-init=t.json"]}}`, `fit_lens args may not set "--lens-init"`},
		{`{"obs": "x", "fit_lens": {"lens_init": "s.json", "args": ["--starts", 2]}}`, "fit_lens args: want a list of strings"},
		{`{"obs": "x", "fit_lens": {"lens_init": "s.json", "args": {"free": ["theta_e"]}}}`, `fit_lens args "free"`},
		{`{"obs": "x", "fit_lens": {"lens_init": "s.json", "args": "--starts 2"}}`, "fit_lens args: want an object"},
		{`{"obs": "x", "lens": "y", "args": {"lens-samples": "d.jsonl"}}`, `args may not set "lens-samples"`},
		{`{"obs": "x", "lens": "y", "args": {"out": "elsewhere"}}`, `args may not set "out"`},
		{`{"obs": "x", "lens": "y", "args": {"steps": [1]}}`, `args "steps"`},
		{"# nothing\n\n", "no lenses"},
	} {
		_, err := ReadCatalog(writeCat(t, dir, c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("catalogue %q: error %v, want %q", c.text, err, c.want)
		}
	}
}

// RunLenses records a failure and goes on, skips finished lenses on a
// re-run, retries failed ones, and resumes an interrupted one.
func TestRunLenses(t *testing.T) {
	dir := t.TempDir()
	c, err := ReadCatalog(writeCat(t, dir, "{\"name\":\"a\",\"obs\":\"a\",\"lens\":\"l\"}\n{\"name\":\"bad\",\"obs\":\"b\",\"lens\":\"l\"}\n{\"name\":\"c\",\"obs\":\"c\",\"lens\":\"l\"}\n{\"name\":\"d\",\"obs\":\"d\",\"lens\":\"l\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := Prepare(out, c, []string{"--steps=10"}); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	resumed := map[string]bool{}
	broken := true
	ctx, cancel := context.WithCancel(context.Background())
	fn := func(ctx context.Context, e *Entry, d string, resume bool) (map[string]any, error) {
		calls[e.Name]++
		resumed[e.Name] = resume
		if e.Name == "bad" && broken {
			return nil, errors.New("obs.fits: no image HDU")
		}
		if e.Name == "c" && calls["c"] == 1 {
			cancel()
			return nil, ctx.Err()
		}
		return map[string]any{"chi2_nu_of_mean": 1.02}, nil
	}
	var log strings.Builder
	// Shard 0 of 1: a, bad (fails), c (interrupted: stops before d).
	done, failed, err := RunLenses(ctx, out, c, []int{0, 1, 2, 3}, fn, &log)
	if done != 1 || failed != 1 || !errors.Is(err, context.Canceled) || calls["d"] != 0 {
		t.Fatalf("first run: done %d failed %d err %v calls %v", done, failed, err, calls)
	}
	idx, err := BuildIndex(out, c)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Counts != (Counts{Done: 1, Failed: 1, Interrupted: 1, Pending: 1}) || idx.Entries[1].Error != "obs.fits: no image HDU" {
		t.Fatalf("index after the first run: %+v, %+v", idx.Counts, idx.Entries[1])
	}
	// Re-run with the lens fixed: a skipped, bad retried, c resumed, d run.
	broken = false
	done, failed, err = RunLenses(context.Background(), out, c, []int{0, 1, 2, 3}, fn, &log)
	if done != 4 || failed != 0 || err != nil || calls["a"] != 1 || calls["bad"] != 2 || !resumed["c"] || resumed["d"] {
		t.Fatalf("second run: done %d failed %d err %v calls %v resumed %v", done, failed, err, calls, resumed)
	}
	idx, _ = BuildIndex(out, c)
	if idx.Counts != (Counts{Done: 4}) || idx.Entries[1].Attempts != 2 {
		t.Errorf("index after the second run: %+v, attempts of bad %d", idx.Counts, idx.Entries[1].Attempts)
	}
	if err := WriteIndex(out, idx, []string{"chi2_nu_of_mean"}); err != nil {
		t.Fatal(err)
	}
	tab, _ := os.ReadFile(filepath.Join(out, TableFile))
	if !strings.Contains(string(tab), "4 lenses: 4 done") || !strings.Contains(string(tab), "| bad | 2 | done | 2 |") || !strings.Contains(string(tab), " 1.02 |") {
		t.Errorf("table:\n%s", tab)
	}
	// The same folder for another catalogue or other flags is refused.
	c2, _ := ReadCatalog(writeCat(t, t.TempDir(), `{"obs":"x","lens":"y"}`))
	if err := Prepare(out, c2, []string{"--steps=10"}); err == nil || !strings.Contains(err.Error(), "another catalogue") {
		t.Errorf("another catalogue: %v", err)
	}
	if err := Prepare(out, c, []string{"--steps=20"}); err == nil || !strings.Contains(err.Error(), "other sampling flags") {
		t.Errorf("other flags: %v", err)
	}
	if err := Prepare(out, c, []string{"--steps=10"}); err != nil {
		t.Errorf("same survey again: %v", err)
	}
}
