package scoremodels

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/torchpt"
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
			if r := maxRel(got, want); r > 1e-5 {
				t.Errorf("%s t=%v: Forward(σ) relative error %.3g", filepath.Base(dir), ts, r)
			}
		}
		net.Close()
	}
}

// Hyper-parameters: score_models' defaults fill what is absent, fir=false
// is the (1,1) kernel, and values lenscore cannot honour are errors naming
// the key.
func TestParseHparams(t *testing.T) {
	cfg, ve, err := ParseHparams([]byte(`{"sigma_min": 0.01, "sigma_max": 100}`), 32, "h.json")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NF != 128 || cfg.NumResBlocks != 2 || len(cfg.ChMult) != 4 || cfg.Channels != 1 || cfg.FourierScale != 16 ||
		!cfg.NCSNpp.Attention || !cfg.NCSNpp.SkipRescale || len(cfg.NCSNpp.FIRKernel) != 4 || cfg.NCSNpp.FIRKernel[1] != 3 ||
		ve.SigmaMin != 0.01 || ve.SigmaMax != 100 || cfg.ImageSize != 32 {
		t.Errorf("defaults: %+v %+v %+v", cfg, *cfg.NCSNpp, ve)
	}
	cfg, _, err = ParseHparams([]byte(`{"sde": "vesde", "sigma_min": 0.01, "sigma_max": 1, "nf": 8, "ch_mult": [1, 2], "fir": false, "fir_kernel": [1, 3, 3, 1], "activation_type": "silu"}`), 8, "h.json")
	if err != nil || len(cfg.NCSNpp.FIRKernel) != 2 {
		t.Errorf("fir=false: %v %v", cfg.NCSNpp, err)
	}
	for _, c := range []struct{ js, want string }{
		{`{"sde": "vp", "beta_min": 0.1, "beta_max": 20}`, `"sde" is "vp"`},
		{`{"beta_min": 0.1, "beta_max": 20}`, `"sde" missing`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "T": 2}`, `"T" must be 1`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "progressive": "residual"}`, `"progressive" is "residual"`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "dimensions": 1}`, `"dimensions" must be 2`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "condition": ["input"], "condition_input_channels": 1}`, `"condition"`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "nf": 12.5}`, `"nf" must be an integer`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "fir_kernel": [[1, 2], [2, 1]]}`, `"fir_kernel" has the wrong type`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "ch_mult": [1, 2], "fir_kernel": [1]}`, `fir_kernel`},
		{`{"sigma_min": 1, "sigma_max": 0.1}`, `sigma_max`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "nf": 8, "ch_mult": [1, 2, 2, 2]}`, `image_size 12`},
		{`{"sigma_min": 0.01, "sigma_max": 1, "lr": 0.001}`, `"lr" is not a hyper-parameter`},
		{`[1, 2]`, `h.json`},
	} {
		_, _, err := ParseHparams([]byte(c.js), 12, "h.json")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "h.json") {
			t.Errorf("%s: error %v, want it to contain %q and the file name", c.js, err, c.want)
		}
	}
}

// A state dict saved from the ScoreModel wrapper ("model." prefixes) is
// read like the network's own; the highest checkpoint number is the
// default; a wrong tensor is named.
func TestReadPrefixedAndNumbers(t *testing.T) {
	src := filepath.Join(fixtureDir, "nf8_12_nofir")
	m, err := Read(src, -1, 8)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hb, _ := os.ReadFile(filepath.Join(src, HparamsFile))
	os.WriteFile(filepath.Join(dir, HparamsFile), hb, 0o644)
	var pre []torchpt.Tensor
	for _, ts := range m.Tensors {
		ts.Name = "model." + ts.Name
		pre = append(pre, ts)
	}
	if err := torchpt.WriteStateDict(filepath.Join(dir, "checkpoint_9.9e-01_010.pt"), pre); err != nil {
		t.Fatal(err)
	}
	pre[3].Data = make([]float32, len(pre[3].Data)) // a different checkpoint 2
	torchpt.WriteStateDict(filepath.Join(dir, "checkpoint_1.0e+00_002.pt"), pre)
	m2, err := Read(dir, -1, 8)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Index != 10 || m2.Tensors[3].Name != m.Tensors[3].Name || m2.Tensors[3].Data[0] != m.Tensors[3].Data[0] {
		t.Errorf("read checkpoint %d, tensor %s", m2.Index, m2.Tensors[3].Name)
	}
	if m3, err := Read(dir, 2, 8); err != nil || m3.Tensors[3].Data[0] != 0 {
		t.Errorf("checkpoint 2: %v", err)
	}
	pre[5].Shape = []int{len(pre[5].Data)}
	torchpt.WriteStateDict(filepath.Join(dir, "checkpoint_1.0e+00_011.pt"), pre)
	if _, err := Read(dir, 11, 8); err == nil || !strings.Contains(err.Error(), m.Tensors[5].Name) {
		t.Errorf("misshapen tensor: %v", err)
	}
}

// lenscore's prior built from the import (posterior.NetworkPrior, which
// feeds the network σ(t) in float32) gives score_models' ∇log p_t(x) to
// 1e-5 relative.
func TestNetworkPriorMatchesScoreModels(t *testing.T) {
	for _, name := range []string{"nf16_122_attn", "nf16_1222_64", "nf8_12_noattn_c2"} {
		dir := filepath.Join(fixtureDir, name)
		c := loadCase(t, dir)
		B, side := c.Shape[0], c.Shape[2]
		m, err := Read(dir, -1, side)
		if err != nil {
			t.Fatal(err)
		}
		net, err := m.Net(new(nn.GoGemm))
		if err != nil {
			t.Fatal(err)
		}
		net.SetInference(true)
		x := readF32(t, filepath.Join(dir, c.X))
		ref := readF32(t, filepath.Join(dir, c.Score))
		per := len(x)
		sz := per / B
		pr, err := posterior.NewNetworkPrior(net, m.VE, sz, 4)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for k, ts := range c.T {
			for i := range B {
				xi := make([]float64, sz)
				for j := range xi {
					xi[j] = float64(x[i*sz+j])
				}
				got := make([]float64, sz)
				if err := pr.Score(got, xi, 1, float64(ts[i])); err != nil {
					t.Fatal(err)
				}
				g32 := make([]float32, sz)
				for j, v := range got {
					g32[j] = float32(v)
				}
				worst = math.Max(worst, maxRel(g32, ref[k*per+i*sz:k*per+(i+1)*sz]))
			}
		}
		if worst > 1e-5 {
			t.Errorf("%s: relative error %.3g", name, worst)
		}
		t.Logf("%s: NetworkPrior relative error %.2g", name, worst)
		net.Close()
	}
}
