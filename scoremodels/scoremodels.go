package scoremodels

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/torchpt"
	"github.com/lenscore/lenscore/weights"
)

// HparamsFile is the hyper-parameter file of a checkpoint directory.
const HparamsFile = "model_hparams.json"

// Model is a score_models network read from a checkpoint directory.
type Model struct {
	Config     score.Config // Arch ArchNCSNpp, ImageSize as requested
	VE         sde.VE
	Checkpoint string // path of the checkpoint file read
	Index      int    // its number
	Tensors    []torchpt.Tensor
}

// ParseHparams turns score_models' model_hparams.json into a Config for
// images of size×size pixels and the VE SDE; see the package documentation
// for what is supported. name is used in errors.
func ParseHparams(b []byte, size int, name string) (score.Config, sde.VE, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return score.Config{}, sde.VE{}, fmt.Errorf("%s: %w", name, err)
	}
	h := hp{raw: raw, name: name}
	cfg := score.NewNCSNppConfig(1, 128, []int{2, 2, 2, 2}, 2, size, 16, 0, 0)
	pc := cfg.NCSNpp
	cfg.Channels = h.int("channels", 1)
	cfg.NF = h.int("nf", 128)
	cfg.ChMult = h.ints("ch_mult", []int{2, 2, 2, 2})
	cfg.NumResBlocks = h.int("num_res_blocks", 2)
	cfg.FourierScale = h.float("fourier_scale", 16)
	pc.SkipRescale = h.bool("skip_rescale", true)
	pc.Attention = h.bool("attention", true)
	fir := h.bool("fir", true)
	pc.FIRKernel = h.floats("fir_kernel", []float64{1, 3, 3, 1})
	if !fir {
		pc.FIRKernel = []float64{1, 1} // average pooling down, nearest up
	}
	if d := h.float("dropout", 0); d < 0 || d >= 1 {
		h.fail("dropout", "must be in [0, 1), got %g", d)
	}
	h.float("init_scale", 0.01)
	h.bool("resample_with_conv", true)
	h.str("model_architecture", "ncsnpp", "ncsnpp")
	h.str("resblock_type", "biggan", "biggan")
	h.str("progressive", "output_skip", "output_skip")
	h.str("progressive_input", "input_skip", "input_skip")
	h.str("combine_method", "sum", "sum")
	h.str("activation_type", "swish", "swish", "silu")
	if d := h.int("dimensions", 2); d != 2 {
		h.fail("dimensions", "must be 2 (images), got %d", d)
	}
	h.condition()
	for _, k := range []string{"condition_num_embedding", "condition_input_channels", "condition_vector_channels"} {
		if v, ok := raw[k]; ok && string(v) != "null" {
			h.fail(k, "conditional networks are not supported (want null), got %s", v)
		}
		delete(raw, k)
	}
	_, hasMin := raw["sigma_min"]
	sdeName := h.str("sde", "", "ve", "vesde")
	if sdeName == "" && !hasMin {
		h.fail("sde", "missing, and no sigma_min: only the VE SDE (sde \"ve\", sigma_min, sigma_max) is supported")
	}
	smin := h.float("sigma_min", math.NaN())
	smax := h.float("sigma_max", math.NaN())
	if T := h.float("T", 1); T != 1 {
		h.fail("T", "must be 1 (σ(t) = σ_min (σ_max/σ_min)^t), got %g", T)
	}
	h.float("epsilon", 0) // the smallest time sampled: not a property of the network
	for k := range raw {
		if h.err == nil {
			h.fail(k, "is not a hyper-parameter lenscore knows how to honour")
		}
	}
	if h.err != nil {
		return score.Config{}, sde.VE{}, h.err
	}
	ve, err := sde.NewVE(smin, smax)
	if err != nil {
		return score.Config{}, sde.VE{}, fmt.Errorf("%s: %w", name, err)
	}
	pc.SigmaMin, pc.SigmaMax = smin, smax
	if err := cfg.Validate(); err != nil {
		return score.Config{}, sde.VE{}, fmt.Errorf("%s (image size %d): %w", name, size, err)
	}
	return cfg, ve, nil
}

// hp reads typed hyper-parameters, deleting each key it reads, and keeps
// the first error.
type hp struct {
	raw  map[string]json.RawMessage
	name string
	err  error
}

func (h *hp) fail(key, format string, a ...any) {
	if h.err == nil {
		h.err = fmt.Errorf("%s: hyper-parameter %q %s", h.name, key, fmt.Sprintf(format, a...))
	}
}

func (h *hp) take(key string, v any) bool {
	b, ok := h.raw[key]
	delete(h.raw, key)
	if !ok || string(b) == "null" {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		h.fail(key, "has the wrong type: %s", b)
		return false
	}
	return true
}

func (h *hp) int(key string, def int) int {
	var v float64
	if !h.take(key, &v) {
		return def
	}
	if v != math.Trunc(v) || math.Abs(v) > 1<<30 {
		h.fail(key, "must be an integer, got %g", v)
		return def
	}
	return int(v)
}

func (h *hp) float(key string, def float64) float64 {
	var v float64
	if !h.take(key, &v) {
		return def
	}
	return v
}

func (h *hp) bool(key string, def bool) bool {
	var v bool
	if !h.take(key, &v) {
		return def
	}
	return v
}

func (h *hp) ints(key string, def []int) []int {
	var v []float64
	if !h.take(key, &v) {
		return def
	}
	out := make([]int, len(v))
	for i, f := range v {
		if f != math.Trunc(f) || math.Abs(f) > 1<<30 {
			h.fail(key, "must be a list of integers, got %v", v)
			return def
		}
		out[i] = int(f)
	}
	return out
}

func (h *hp) floats(key string, def []float64) []float64 {
	var v []float64
	if !h.take(key, &v) {
		return def
	}
	return v
}

// str reads a string that must be one of allowed (compared without case).
func (h *hp) str(key, def string, allowed ...string) string {
	var v string
	if !h.take(key, &v) {
		return def
	}
	if !slices.Contains(allowed, strings.ToLower(v)) {
		h.fail(key, "is %q; lenscore supports %s", v, strings.Join(allowed, ", "))
	}
	return strings.ToLower(v)
}

func (h *hp) condition() {
	var v []string
	if !h.take("condition", &v) {
		return
	}
	for _, c := range v {
		if strings.ToLower(c) != "none" {
			h.fail("condition", "is %v; conditional networks are not supported", v)
			return
		}
	}
}

var lastInt = regexp.MustCompile(`[0-9]+`)

// Checkpoints returns the checkpoint files of dir (checkpoint*.pt) by
// their number, as score_models numbers them (the last integer of the name).
func Checkpoints(dir string) (map[int]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "checkpoint*.pt"))
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, p := range paths {
		m := lastInt.FindAllString(filepath.Base(p), -1)
		if len(m) == 0 {
			continue
		}
		n, err := strconv.Atoi(m[len(m)-1])
		if err != nil {
			continue
		}
		if old, ok := out[n]; ok {
			return nil, fmt.Errorf("%s: checkpoints %s and %s both have number %d", dir, filepath.Base(old), filepath.Base(p), n)
		}
		out[n] = p
	}
	return out, nil
}

// Read reads checkpoint number index (< 0: the highest) of the score_models
// checkpoint directory dir, for images of size×size pixels, and checks its
// tensors against the architecture its hyper-parameters describe.
func Read(dir string, index, size int) (*Model, error) {
	hb, err := os.ReadFile(filepath.Join(dir, HparamsFile))
	if err != nil {
		return nil, fmt.Errorf("score_models checkpoint directory: %w", err)
	}
	cfg, ve, err := ParseHparams(hb, size, filepath.Join(dir, HparamsFile))
	if err != nil {
		return nil, err
	}
	cks, err := Checkpoints(dir)
	if err != nil {
		return nil, err
	}
	if len(cks) == 0 {
		return nil, fmt.Errorf("%s has no checkpoint*.pt file", dir)
	}
	if index < 0 {
		for n := range cks {
			index = max(index, n)
		}
	}
	path, ok := cks[index]
	if !ok {
		have := make([]int, 0, len(cks))
		for n := range cks {
			have = append(have, n)
		}
		slices.Sort(have)
		return nil, fmt.Errorf("%s has no checkpoint number %d (it has %v)", dir, index, have)
	}
	ts, err := torchpt.ReadStateDict(path)
	if err != nil {
		return nil, err
	}
	if err := checkTensors(ts, cfg, path); err != nil {
		return nil, err
	}
	return &Model{Config: cfg, VE: ve, Checkpoint: path, Index: index, Tensors: ts}, nil
}

// checkTensors strips a ScoreModel's "model." prefix and checks that the
// names and shapes are exactly those of the architecture.
func checkTensors(ts []torchpt.Tensor, cfg score.Config, path string) error {
	prefixed := len(ts) > 0
	for _, t := range ts {
		prefixed = prefixed && strings.HasPrefix(t.Name, "model.")
	}
	want := score.TorchShapes(cfg)
	seen := map[string]bool{}
	for i := range ts {
		if prefixed {
			ts[i].Name = strings.TrimPrefix(ts[i].Name, "model.")
		}
		t := ts[i]
		sh, ok := want[t.Name]
		if !ok {
			return fmt.Errorf("%s: tensor %q is not part of the NCSNpp that %s describes", path, t.Name, HparamsFile)
		}
		if !slices.Equal(sh, t.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, the hyper-parameters give %v", path, t.Name, t.Shape, sh)
		}
		for _, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: tensor %q has a non-finite value", path, t.Name)
			}
		}
		seen[t.Name] = true
	}
	for name := range want {
		if !seen[name] {
			return fmt.Errorf("%s: tensor %q is missing", path, name)
		}
	}
	return nil
}

// Net builds the lenscore network of m with back-end g.
func (m *Model) Net(g nn.Gemm) (*score.Net, error) {
	net, err := score.New(m.Config, g, 0)
	if err != nil {
		return nil, err
	}
	byName := map[string][]float32{}
	for _, t := range m.Tensors {
		byName[t.Name] = t.Data
	}
	for _, p := range net.Params() {
		d, ok := byName[p.Name]
		if !ok || len(d) != len(p.Data) {
			net.Close()
			return nil, fmt.Errorf("%s: no tensor of %d values for parameter %s", m.Checkpoint, len(p.Data), p.Name)
		}
		copy(p.Data, d)
	}
	return net, nil
}

// Metadata returns the safetensors metadata lenscore's commands expect of
// a model file (config, sigma_min, sigma_max, step) for net with SDE ve;
// extra entries are added.
func Metadata(net *score.Net, ve sde.VE, step string, extra map[string]string) (map[string]string, error) {
	cb, err := json.Marshal(net.Config())
	if err != nil {
		return nil, err
	}
	meta := map[string]string{score.MetaConfig: string(cb), "sigma_min": fmt.Sprint(ve.SigmaMin),
		"sigma_max": fmt.Sprint(ve.SigmaMax), "step": step}
	for k, v := range extra {
		if _, clash := meta[k]; !clash {
			meta[k] = v
		}
	}
	return meta, nil
}

// Hparams returns the model_hparams.json score_models needs to rebuild
// the NCSNpp of cfg with SDE ve.
func Hparams(cfg score.Config, ve sde.VE) ([]byte, error) {
	if cfg.Arch != score.ArchNCSNpp || cfg.NCSNpp == nil {
		return nil, errors.New("only NCSNpp networks (arch \"ncsnpp\": imported from score_models or built with that architecture) can be exported to score_models; lenscore's own architecture has no score_models equivalent")
	}
	pc := cfg.NCSNpp
	if pc.SigmaMin != ve.SigmaMin || pc.SigmaMax != ve.SigmaMax {
		return nil, fmt.Errorf("the network is conditioned on σ in [%g, %g] but the SDE has [%g, %g]", pc.SigmaMin, pc.SigmaMax, ve.SigmaMin, ve.SigmaMax)
	}
	h := map[string]any{
		"channels": cfg.Channels, "nf": cfg.NF, "ch_mult": cfg.ChMult, "num_res_blocks": cfg.NumResBlocks,
		"activation_type": "swish", "dropout": 0.0, "resample_with_conv": true, "fir": true,
		"fir_kernel": pc.FIRKernel, "skip_rescale": pc.SkipRescale, "progressive": "output_skip",
		"progressive_input": "input_skip", "init_scale": 0.01, "fourier_scale": cfg.FourierScale,
		"resblock_type": "biggan", "combine_method": "sum", "attention": pc.Attention, "dimensions": 2,
		"condition": []string{"None"}, "condition_num_embedding": nil, "condition_input_channels": nil,
		"condition_vector_channels": nil, "sde": "ve", "sigma_min": ve.SigmaMin, "sigma_max": ve.SigmaMax,
		"T": 1.0, "model_architecture": "NCSNpp",
	}
	b, err := json.MarshalIndent(h, "", "    ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ExportCheckpoint is the file name Export writes (checkpoint number 1).
const ExportCheckpoint = "checkpoint_001.pt"

// Export writes a score_models checkpoint directory for net (which must be
// an NCSNpp) with SDE ve: model_hparams.json and checkpoint_001.pt. Files
// are written atomically; dir must not already hold a checkpoint.
func Export(net *score.Net, ve sde.VE, dir string) error {
	cfg := net.Config()
	hb, err := Hparams(cfg, ve)
	if err != nil {
		return err
	}
	shapes := score.TorchShapes(cfg)
	var ts []torchpt.Tensor
	for _, p := range net.Params() {
		sh, ok := shapes[p.Name]
		if !ok {
			return fmt.Errorf("parameter %s has no score_models counterpart", p.Name)
		}
		ts = append(ts, torchpt.Tensor{Name: p.Name, Shape: sh, Data: p.Data})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if cks, err := Checkpoints(dir); err != nil || len(cks) > 0 {
		if err == nil {
			err = fmt.Errorf("%s already holds score_models checkpoints; export to a new directory", dir)
		}
		return err
	}
	if err := torchpt.WriteStateDict(filepath.Join(dir, ExportCheckpoint), ts); err != nil {
		return err
	}
	return weights.WriteFileAtomic(filepath.Join(dir, HparamsFile), hb)
}
