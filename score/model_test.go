package score

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/weights"
)

// TestLoadModelRoundTrip saves a network with a trained model's metadata
// and reads it back with LoadModel: the same outputs and the typed fields.
func TestLoadModelRoundTrip(t *testing.T) {
	net, err := New(tinyConfig(), nn.NaiveGemm{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	randomize(net, rand.New(rand.NewPCG(3, 3)))
	cj, _ := json.Marshal(net.Config())
	meta := map[string]string{MetaConfig: string(cj), MetaSigmaMin: "0.01", MetaSigmaMax: "12.5", MetaStep: "42",
		MetaStars: StarsRemovedValue, MetaData: "a,b", MetaExcluded: "x.png", MetaInit: "m (step 7)"}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := weights.Save(path, net.Params(), meta); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(path, nn.NaiveGemm{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.SigmaMin != 0.01 || m.SigmaMax != 12.5 || m.Step != 42 || !m.StarsRemoved || m.Data != "a,b" || m.Excluded != "x.png" ||
		m.Init != "m (step 7)" || m.Source != path || m.Name() != path+" (step 42)" {
		t.Fatalf("info %+v, name %q", m.ModelInfo, m.Name())
	}
	if ve := m.VE(); ve.SigmaMin != 0.01 || ve.SigmaMax != 12.5 {
		t.Fatalf("VE %+v", ve)
	}
	x := randVec(rand.New(rand.NewPCG(2, 2)), 64, 1)
	a := append([]float32(nil), net.Forward(x, []float32{0.7}, 1)...)
	b := m.Net.Forward(x, []float32{0.7}, 1)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("output %d: %g loaded, %g saved", i, b[i], a[i])
		}
	}
	info, err := ReadModelInfo(path)
	if err != nil || info.Step != 42 || info.SigmaMax != 12.5 {
		t.Fatalf("ReadModelInfo: %+v, %v", info, err)
	}
}

// TestModelInfoErrors: each missing or malformed entry gives an error
// naming the entry; optional entries have their defaults.
func TestModelInfoErrors(t *testing.T) {
	cj, _ := json.Marshal(tinyConfig())
	good := func() map[string]string {
		return map[string]string{MetaConfig: string(cj), MetaSigmaMin: "0.01", MetaSigmaMax: "10"}
	}
	info, err := ParseModelInfo(good())
	if err != nil || info.Step != -1 || info.StarsRemoved {
		t.Fatalf("minimal metadata: %+v, %v", info, err)
	}
	for _, c := range []struct {
		key, val, want string
	}{
		{MetaConfig, "", "config"},
		{MetaConfig, "{", "config"},
		{MetaSigmaMax, "", "sigma_max"},
		{MetaSigmaMin, "abc", "sigma_min"},
		{MetaSigmaMax, "0.001", "sigma_max"}, // below σ_min
		{MetaStep, "x", "step"},
		{MetaStep, "-3", "step"},
	} {
		m := good()
		if c.val == "" {
			delete(m, c.key)
		} else {
			m[c.key] = c.val
		}
		if _, err := ParseModelInfo(m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: error %v, want one naming %s", c.key, c.val, err, c.want)
		}
	}
	if _, err := LoadModel(filepath.Join(t.TempDir(), "none.safetensors"), nil); err == nil || !strings.Contains(err.Error(), "none.safetensors") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	if _, err := LoadModel(bad, nil); err == nil || !strings.Contains(err.Error(), "bad.safetensors") {
		t.Errorf("garbage file: %v", err)
	}
}
