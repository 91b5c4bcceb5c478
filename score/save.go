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
// shapes and dtypes are validated by package weights).
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
	// Compare the sizes before New allocates anything for the config.
	var have int64
	for _, sh := range shapes {
		v := int64(1)
		for _, d := range sh {
			v *= int64(d) // bounded: the header check tied offsets to the file size
		}
		have += v
	}
	// A config describing a much larger network than the file holds is
	// refused before New allocates it; smaller mismatches go on to
	// weights.Load, whose error names the missing or misshapen tensor.
	if want := cfg.NumParams(); want > 2*have+1<<20 {
		return nil, fmt.Errorf("score: load %s: the %q metadata implies %d parameter values but the file's tensors hold %d", path, MetaConfig, want, have)
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
