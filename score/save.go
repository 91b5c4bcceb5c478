package score

import (
	"encoding/json"
	"fmt"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/weights"
)

// MetaConfig is the safetensors metadata key holding the Config as JSON.
const MetaConfig = "config"

// Save writes the network's parameters to a safetensors file at path
// (atomically, via package weights) with its Config as JSON under the
// metadata key "config".
func Save(path string, n *Net) error {
	b, err := json.Marshal(n.cfg)
	if err != nil {
		return fmt.Errorf("score: save %s: encoding config: %w", path, err)
	}
	return weights.Save(path, n.Params(), map[string]string{MetaConfig: string(b)})
}

// Load builds the network described by the "config" metadata of the
// safetensors file at path and fills its parameters from the file (names,
// shapes and dtypes are validated by package weights). It needs only the
// config; LoadModel also reads a trained model's σ range and other
// metadata.
func Load(path string, g nn.Gemm) (*Net, error) {
	meta, shapes, err := weights.ReadHeader(path)
	if err != nil {
		return nil, fmt.Errorf("score: load: %w", err)
	}
	js, ok := meta[MetaConfig]
	if !ok {
		return nil, fmt.Errorf("score: load %s: metadata has no %q entry (not a score-network file?)", path, MetaConfig)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		return nil, fmt.Errorf("score: load %s: metadata %q: %w", path, MetaConfig, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("score: load %s: %w", path, err)
	}
	if err := checkSize(cfg, shapes); err != nil {
		return nil, fmt.Errorf("score: load %s: %w", path, err)
	}
	n, err := New(cfg, g, 0)
	if err != nil {
		return nil, fmt.Errorf("score: load %s: %w", path, err)
	}
	if _, err := weights.Load(path, n.Params()); err != nil {
		n.Close()
		return nil, fmt.Errorf("score: load: %w", err)
	}
	return n, nil
}
