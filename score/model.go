package score

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/weights"
)

// Metadata keys of a trained model's safetensors file (package train
// writes them into ema.safetensors; `lenscore export-model` keeps them).
const (
	MetaStep     = "step"      // training step of the weights, decimal
	MetaSigmaMin = "sigma_min" // σ_min of the VE diffusion the network was trained for
	MetaSigmaMax = "sigma_max" // σ_max of that diffusion
	MetaStars    = "stars"     // StarsRemovedValue when the training images had their foreground stars removed
	MetaData     = "data"      // the training image folders
	MetaExcluded = "excluded"  // image names left out of training
	MetaInit     = "init"      // the model a fine-tuning run started from

	// StarsRemovedValue is MetaStars's value for star-free training images.
	StarsRemovedValue = "removed"
)

// ModelInfo is the typed metadata of a trained model file: what a sampler
// needs besides the weights.
type ModelInfo struct {
	Config   Config  // the architecture (metadata key "config")
	SigmaMin float64 // σ range of the diffusion the network was trained for
	SigmaMax float64
	// Step is the training step of the weights, or −1 if the file does
	// not say.
	Step int
	// StarsRemoved: the training images had their foreground stars
	// removed, so test galaxies should be prepared the same way.
	StarsRemoved bool
	Data         string            // training image folders ("" if not recorded)
	Excluded     string            // image names left out of training
	Init         string            // the model fine-tuning started from ("" for none)
	Meta         map[string]string // every metadata entry, as stored
}

// ParseModelInfo interprets the metadata of a model file. The config and
// a valid σ range are required; the other entries are optional.
func ParseModelInfo(meta map[string]string) (ModelInfo, error) {
	info := ModelInfo{Step: -1, Meta: meta}
	js, ok := meta[MetaConfig]
	if !ok {
		return info, fmt.Errorf("metadata has no %q entry (not a score-network file?)", MetaConfig)
	}
	if err := json.Unmarshal([]byte(js), &info.Config); err != nil {
		return info, fmt.Errorf("metadata %q: %w", MetaConfig, err)
	}
	if err := info.Config.Validate(); err != nil {
		return info, err
	}
	var err1, err2 error
	info.SigmaMin, err1 = strconv.ParseFloat(meta[MetaSigmaMin], 64)
	info.SigmaMax, err2 = strconv.ParseFloat(meta[MetaSigmaMax], 64)
	if err1 != nil || err2 != nil {
		return info, fmt.Errorf("metadata lacks a valid %s/%s (%q, %q); a trained model records the σ range of its diffusion",
			MetaSigmaMin, MetaSigmaMax, meta[MetaSigmaMin], meta[MetaSigmaMax])
	}
	if _, err := sde.NewVE(info.SigmaMin, info.SigmaMax); err != nil {
		return info, fmt.Errorf("metadata %s/%s: %w", MetaSigmaMin, MetaSigmaMax, err)
	}
	if s, ok := meta[MetaStep]; ok {
		step, err := strconv.Atoi(s)
		if err != nil || step < 0 {
			return info, fmt.Errorf("metadata %s is %q, want a step number", MetaStep, s)
		}
		info.Step = step
	}
	info.StarsRemoved = meta[MetaStars] == StarsRemovedValue
	info.Data, info.Excluded, info.Init = meta[MetaData], meta[MetaExcluded], meta[MetaInit]
	return info, nil
}

// VE returns the variance-exploding diffusion the network was trained for.
func (i ModelInfo) VE() sde.VE {
	ve, _ := sde.NewVE(i.SigmaMin, i.SigmaMax) // validated by ParseModelInfo
	return ve
}

// ReadModelInfo reads and interprets the metadata of the model file at
// path without reading its weights.
func ReadModelInfo(path string) (ModelInfo, error) {
	meta, err := weights.ReadMeta(path)
	if err != nil {
		return ModelInfo{}, fmt.Errorf("score: %w", err)
	}
	info, err := ParseModelInfo(meta)
	if err != nil {
		return info, fmt.Errorf("score: model %s: %w", path, err)
	}
	return info, nil
}

// Model is a trained score network with its metadata.
type Model struct {
	Net *Net
	ModelInfo
	// Source is where the model came from: the file's path, or the name
	// given to DecodeModel.
	Source string
}

// Close releases the network's worker goroutines.
func (m *Model) Close() {
	if m != nil && m.Net != nil {
		m.Net.Close()
	}
}

// Name describes the model for logs and summaries, e.g.
// "models/prior64/model.safetensors (step 3521)".
func (m *Model) Name() string {
	if m.Step < 0 {
		return m.Source
	}
	return fmt.Sprintf("%s (step %d)", m.Source, m.Step)
}

// LoadModel reads a trained model file (as written by package train or
// `lenscore export-model`): the network on g (nil: nn.DefaultGemm) and its
// typed metadata. Errors name the file and the problem.
func LoadModel(path string, g nn.Gemm) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("score: load model: %w", err)
	}
	m, err := DecodeModel(path, b, g)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeModel is LoadModel on the bytes of a model file (an embedded one,
// say); name is used in errors and as Model.Source.
func DecodeModel(name string, b []byte, g nn.Gemm) (*Model, error) {
	meta, shapes, err := weights.DecodeHeader(b)
	if err != nil {
		return nil, fmt.Errorf("score: load model %s: %w", name, err)
	}
	info, err := ParseModelInfo(meta)
	if err != nil {
		return nil, fmt.Errorf("score: load model %s: %w", name, err)
	}
	if err := checkSize(info.Config, shapes); err != nil {
		return nil, fmt.Errorf("score: load model %s: %w", name, err)
	}
	if g == nil {
		if g, err = nn.DefaultGemm(); err != nil {
			return nil, fmt.Errorf("score: load model %s: %w", name, err)
		}
	}
	n, err := New(info.Config, g, 0)
	if err != nil {
		return nil, fmt.Errorf("score: load model %s: %w", name, err)
	}
	if _, err := weights.Decode(b, n.Params()); err != nil {
		n.Close()
		return nil, fmt.Errorf("score: load model %s: %w", name, err)
	}
	return &Model{Net: n, ModelInfo: info, Source: name}, nil
}

// checkSize refuses a config that describes a much larger network than the
// file's tensors hold, before New allocates it; smaller mismatches are
// left to weights.Decode, whose error names the missing or misshapen
// tensor.
func checkSize(cfg Config, shapes map[string][]int) error {
	var have int64
	for _, sh := range shapes {
		v := int64(1)
		for _, d := range sh {
			v *= int64(d) // bounded: the header check tied offsets to the file size
		}
		have += v
	}
	if want := cfg.NumParams(); want > 2*have+1<<20 {
		return fmt.Errorf("the %q metadata implies %d parameter values but the file's tensors hold %d", MetaConfig, want, have)
	}
	return nil
}
