package scoremodels

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/nn"
)

// fixtureDir holds score_models checkpoint directories with inputs and
// scores computed by score_models itself under PyTorch 1.13
// (scripts/score_models_ref.py fixtures).
const fixtureDir = "../score/testdata/ncsnpp"

type fixtureCase struct {
	Shape []int       `json:"shape"`
	T     [][]float32 `json:"t"`
	X     string      `json:"x"`
	Score string      `json:"score"`
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func loadCase(t *testing.T, dir string) fixtureCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c fixtureCase
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// maxRel returns max|a−b| / max|b|.
func maxRel(a, b []float32) float64 {
	var d, m float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

// lenscore's NCSNpp built from score_models' checkpoints gives score_models'
// scores model(t, x)/σ(t) to 1e-5 relative, for four hyper-parameter sets
// (attention on and off, ch_mult 1,2,2 / 1,2 / 1,2,2,2 at 64², 1 and 2
// channels, skip_rescale off, fir_kernel 1,2,1, fir off) at several t, both
// through ForwardTime (t given) and Forward (σ given).
func TestMatchesScoreModels(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(fixtureDir, "*"))
	if len(dirs) < 3 {
		t.Fatalf("%d fixture directories in %s", len(dirs), fixtureDir)
	}
	g := new(nn.GoGemm)
	for _, dir := range dirs {
		c := loadCase(t, dir)
		B, side := c.Shape[0], c.Shape[2]
		m, err := Read(dir, -1, side)
		if err != nil {
			t.Fatal(err)
		}
		net, err := m.Net(g)
		if err != nil {
			t.Fatal(err)
		}
		x := readF32(t, filepath.Join(dir, c.X))
		ref := readF32(t, filepath.Join(dir, c.Score))
		per := len(x)
		sz := per / B
		for k, ts := range c.T {
			want := ref[k*per : (k+1)*per]
			got := make([]float32, per)
			out := net.ForwardTime(x, ts, B)
			sig := make([]float32, B)
			for i := range B {
				s := m.VE.Sigma(float64(ts[i]))
				sig[i] = float32(s)
				for j := range sz {
					got[i*sz+j] = float32(float64(out[i*sz+j]) / s)
				}
			}
			if r := maxRel(got, want); r > 1e-5 {
				t.Errorf("%s t=%v: ForwardTime relative error %.3g", filepath.Base(dir), ts, r)
			} else {
				t.Logf("%s t=%v: relative error %.2g", filepath.Base(dir), ts, r)
			}
			out = net.Forward(x, sig, B)
			for i := range B {
				for j := range sz {
					got[i*sz+j] = float32(float64(out[i*sz+j]) / float64(sig[i]))
				}
			}
			if r := maxRel(got, want); r > 1e-4 {
				t.Errorf("%s t=%v: Forward(σ) relative error %.3g", filepath.Base(dir), ts, r)
			}
		}
		net.Close()
	}
}
