package score

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/weights"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	cfg := tinyConfig()
	net, err := New(cfg, nn.NaiveGemm{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	randomize(net, rand.New(rand.NewPCG(1, 1)))
	path := filepath.Join(t.TempDir(), "net.safetensors")
	if err := Save(path, net); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path, nn.NaiveGemm{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	c := back.Config()
	if c.ImageSize != cfg.ImageSize || c.NF != cfg.NF || len(c.ChMult) != 2 || c.ChMult[1] != 2 || c.AttnResolutions[0] != 4 || c.FourierScale != 16 {
		t.Fatalf("config not restored: %+v", c)
	}
	x := randVec(rand.New(rand.NewPCG(2, 2)), 2*64, 1)
	sig := []float32{0.5, 5}
	a := append([]float32(nil), net.Forward(x, sig, 2)...)
	b := back.Forward(x, sig, 2)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("reloaded network output %d: %g, original %g", i, b[i], a[i])
		}
	}
	// a weights file without config metadata is refused with a clear error
	other := filepath.Join(t.TempDir(), "plain.safetensors")
	if err := weights.Save(other, net.Params(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(other, nn.NaiveGemm{}); err == nil || !strings.Contains(err.Error(), "config") {
		t.Fatalf("file without config: err = %v", err)
	}
	// a truncated file is refused
	raw, _ := os.ReadFile(path)
	bad := filepath.Join(t.TempDir(), "trunc.safetensors")
	os.WriteFile(bad, raw[:len(raw)/2], 0o644)
	if _, err := Load(bad, nn.NaiveGemm{}); err == nil {
		t.Fatal("truncated file accepted")
	}
}

// TestConfigNumParams checks Config.NumParams, computed from the
// architecture alone, against the parameter count of the built network for
// configurations with and without attention, channel changes and several
// levels.
func TestConfigNumParams(t *testing.T) {
	cfgs := []Config{
		tinyConfig(),
		DefaultConfig(),
		{ImageSize: 16, Channels: 3, NF: 8, ChMult: []int{1, 1, 2}, NumResBlocks: 2, AttnResolutions: []int{16, 4}, FourierScale: 16},
		{ImageSize: 4, Channels: 2, NF: 4, ChMult: []int{2}, NumResBlocks: 1, FourierScale: 1},
	}
	for i, c := range cfgs {
		n, err := New(c, nn.NaiveGemm{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.NumParams(), int64(n.NumParams()); got != want {
			t.Errorf("config %d: Config.NumParams %d, built network %d", i, got, want)
		}
		n.Close()
	}
}

// TestValidateBounds checks that out-of-range sizes are refused with an
// error naming the field (in particular no shift-to-zero division for a
// long ch_mult, and no huge nf reaching an allocation).
func TestValidateBounds(t *testing.T) {
	long := make([]int, 65)
	for i := range long {
		long[i] = 1
	}
	mod := func(f func(*Config)) Config { c := tinyConfig(); f(&c); return c }
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{mod(func(c *Config) { c.ChMult = long }), "ch_mult"},
		{mod(func(c *Config) { c.ChMult = long[:17] }), "ch_mult"},
		{mod(func(c *Config) { c.ChMult = []int{1, 65} }), "ch_mult[1]"},
		{mod(func(c *Config) { c.NF = 1 << 40 }), "nf"},
		{mod(func(c *Config) { c.NF = 4100 }), "nf"},
		{mod(func(c *Config) { c.ImageSize = 1 << 14 }), "image_size"},
		{mod(func(c *Config) { c.NumResBlocks = 17 }), "num_res_blocks"},
		{mod(func(c *Config) { c.Channels = 17 }), "channels"},
		{mod(func(c *Config) { c.FourierScale = math.Inf(1) }), "fourier_scale"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate = %v, want an error naming %s", tc.field, err, tc.field)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config refused: %v", err)
	}
}

// TestLoadSizeMismatch checks that a file whose config metadata implies
// far more parameters than its tensors hold is refused before the network
// is built, naming both counts, and that a small mismatch is refused by the
// tensor-by-tensor check, naming the tensor.
func TestLoadSizeMismatch(t *testing.T) {
	net, err := New(tinyConfig(), nn.NaiveGemm{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	dir := t.TempDir()
	for i, cfg := range []string{
		// valid but ~10¹² parameters: must be refused without building it
		`{"image_size":8192,"channels":1,"nf":4096,"ch_mult":[64,64],"num_res_blocks":16,"attn_resolutions":[],"fourier_scale":16}`,
		`{"image_size":8,"channels":1,"nf":16,"ch_mult":[1,2],"num_res_blocks":1,"attn_resolutions":[4],"fourier_scale":16}`,
	} {
		path := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i))
		if err := weights.Save(path, net.Params(), map[string]string{MetaConfig: cfg}); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, nn.NaiveGemm{})
		want := fmt.Sprintf("tensors hold %d", net.NumParams())
		if i == 1 {
			want = "temb.fourier.W"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %d: Load = %v, want an error with %q", i, err, want)
		}
	}
}
