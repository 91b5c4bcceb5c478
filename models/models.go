package models

import (
	_ "embed"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
)

// Prior64Name names the embedded prior in logs and summaries.
const Prior64Name = "built-in models/prior64"

var (
	//go:embed prior64/model.safetensors
	prior64Weights []byte
	//go:embed prior64/model.json
	prior64Card []byte
)

// Prior64Bytes returns the embedded prior64/model.safetensors. The slice
// is shared: do not modify it.
func Prior64Bytes() []byte { return prior64Weights }

// Prior64Card returns the embedded prior64/model.json (the model card
// written by `lenscore export-model`).
func Prior64Card() []byte { return prior64Card }

// LoadPrior64 builds the shipped 64×64 prior on g (nil: nn.DefaultGemm).
// Close the model when done.
func LoadPrior64(g nn.Gemm) (*score.Model, error) {
	return score.DecodeModel(Prior64Name, prior64Weights, g)
}
