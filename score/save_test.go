package score

import (
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
