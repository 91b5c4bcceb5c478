package shard

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		env  map[string]string
		want Spec
		err  []string // substrings of the error; nil = success
	}{
		{in: "0/1", want: Spec{0, 1}},
		{in: "3/4", want: Spec{3, 4}},
		{in: "3/2", err: []string{`"3/2"`, "index 3", "0 ≤ i < N"}},
		{in: "0/0", err: []string{`"0/0"`, "N must be ≥ 1"}},
		{in: "-1/4", err: []string{"index -1"}},
		{in: "1", err: []string{`"1"`, "i/N"}},
		{in: "a/b", err: []string{"integers"}},
		{in: "slurm", env: map[string]string{EnvTaskID: "7", EnvTaskMin: "5", EnvTaskCount: "4"}, want: Spec{2, 4}},
		{in: "slurm", env: map[string]string{EnvTaskID: "9", EnvTaskMin: "5", EnvTaskCount: "4"}, err: []string{"index 4", "contiguous"}},
		{in: "slurm", env: map[string]string{EnvTaskMin: "0", EnvTaskCount: "4"}, err: []string{EnvTaskID, "not set"}},
		{in: "slurm", env: map[string]string{EnvTaskID: "x", EnvTaskMin: "0", EnvTaskCount: "4"}, err: []string{EnvTaskID, `"x"`}},
	} {
		got, err := Parse(c.in, env(c.env))
		if c.err == nil {
			if err != nil || got != c.want {
				t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", c.in, got)
			continue
		}
		for _, w := range c.err {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q): error %q does not mention %q", c.in, err, w)
			}
		}
	}
}

func TestThreads(t *testing.T) {
	if n, ok, err := Threads(env(map[string]string{EnvCPUs: "3"})); n != 3 || !ok || err != nil {
		t.Errorf("Threads(3) = %d, %v, %v", n, ok, err)
	}
	if _, ok, err := Threads(env(nil)); ok || err != nil {
		t.Errorf("Threads(unset) = %v, %v", ok, err)
	}
	if _, _, err := Threads(env(map[string]string{EnvCPUs: "0"})); err == nil || !strings.Contains(err.Error(), EnvCPUs) {
		t.Errorf("Threads(0): %v", err)
	}
}

// The shards' ranges partition 0…K−1 in order, their sizes differ by at
// most one and the larger ones come first.
func TestRangePartition(t *testing.T) {
	for total := 1; total <= 40; total++ {
		for n := 1; n <= total; n++ {
			next, prev := 0, total+1
			for i := range n {
				first, c, err := Spec{i, n}.Range(total)
				if err != nil {
					t.Fatal(err)
				}
				if first != next || c > prev || c < total/n || c > total/n+1 {
					t.Fatalf("K=%d N=%d shard %d: [%d, %d), expected start %d, previous size %d", total, n, i, first, first+c, next, prev)
				}
				next, prev = first+c, c
			}
			if next != total {
				t.Fatalf("K=%d N=%d: shards cover %d chains", total, n, next)
			}
		}
	}
	if _, _, err := (Spec{0, 5}).Range(4); err == nil || !strings.Contains(err.Error(), "5 shards for 4 samples") {
		t.Errorf("more shards than samples: %v", err)
	}
	got := Spec{1, 3}.Items(8)
	if want := []int{1, 4, 7}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Items(8) of 1/3 = %v, want %v", got, want)
	}
}

func makePart(i, n, total, dim int, key map[string]string) *Part {
	first, c, _ := Spec{i, n}.Range(total)
	p := &Part{Manifest: Manifest{Shard: i, Count: n, FirstChain: first, Chains: c, TotalChains: total, Key: key,
		Summary: []byte(`{"a":1}`)}}
	for k := range c {
		s := make([]float64, dim)
		for j := range s {
			s[j] = math.Sin(float64((first+k)*dim+j)) * 1e-3
		}
		p.Samples = append(p.Samples, s)
	}
	return p
}

func TestPartRoundTripAndCollect(t *testing.T) {
	dir := t.TempDir()
	key := map[string]string{"seed": "1", "observation": "obs.fits sha256:ab"}
	for i := range 3 {
		if _, err := WritePart(dir, makePart(i, 3, 7, 5, key)); err != nil {
			t.Fatal(err)
		}
	}
	parts, err := Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	all := Samples(parts)
	if len(all) != 7 {
		t.Fatalf("%d samples, want 7", len(all))
	}
	for k, s := range all {
		for j, v := range s {
			if want := math.Sin(float64(k*5+j)) * 1e-3; v != want {
				t.Fatalf("sample %d value %d = %v, want %v (bitwise)", k, j, v, want)
			}
		}
	}
	if string(parts[1].Summary) != `{"a":1}` || parts[2].FirstChain != 5 {
		t.Errorf("manifest round trip: %s, first chain %d", parts[1].Summary, parts[2].FirstChain)
	}
	// No temporaries left.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("%d files in the folder, want the 3 parts", len(ents))
	}

	// A corrupted byte is detected.
	p1 := filepath.Join(dir, PartName(1, 3))
	b, _ := os.ReadFile(p1)
	b[len(b)/2] ^= 1
	if _, err := Decode(p1, b); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupted part: %v", err)
	}

	// Missing part: named.
	os.Remove(p1)
	if _, err := Collect(dir); err == nil || !strings.Contains(err.Error(), PartName(1, 3)) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing part: %v", err)
	}
	// A part of another run (different seed): both files and the key named.
	other := map[string]string{"seed": "2", "observation": "obs.fits sha256:ab"}
	WritePart(dir, makePart(1, 3, 7, 5, other))
	if _, err := Collect(dir); err == nil || !strings.Contains(err.Error(), "different runs") || !strings.Contains(err.Error(), `seed ("1" vs "2")`) || !strings.Contains(err.Error(), PartName(1, 3)) {
		t.Errorf("mismatched part: %v", err)
	}
	// JSON values are compared field by field.
	if d := KeyDiff(map[string]string{"summary": `{"seed":1,"steps":5}`}, map[string]string{"summary": `{"seed":2,"steps":5}`}); len(d) != 1 || d[0] != `summary.seed ("1" vs "2")` {
		t.Errorf("KeyDiff of JSON summaries: %q", d)
	}
	// A part of a run split differently.
	WritePart(dir, makePart(1, 3, 7, 5, key))
	WritePart(dir, makePart(0, 2, 7, 5, key))
	if _, err := Collect(dir); err == nil || !strings.Contains(err.Error(), "one of 2 shards") {
		t.Errorf("different shard counts: %v", err)
	}
	os.Remove(filepath.Join(dir, PartName(0, 2)))
	// A part copied under another shard's name.
	b0, _ := os.ReadFile(filepath.Join(dir, PartName(0, 3)))
	os.WriteFile(filepath.Join(dir, PartName(2, 3)), b0, 0o644)
	if _, err := Collect(dir); err == nil || !strings.Contains(err.Error(), "renamed") {
		t.Errorf("duplicated part: %v", err)
	}
	if _, err := Collect(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no part files") {
		t.Errorf("empty folder: %v", err)
	}
}
