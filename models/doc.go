// Package models ships lenscore's trained score-network prior inside the
// program, so that a binary built with `go install` finds it from any
// folder.
//
// The files are this folder's prior64/model.safetensors (the 64×64 galaxy
// prior: EMA weights of the score network ε_θ(x, σ), float32, with its
// configuration, σ_min, σ_max, training step and "stars: removed" in the
// metadata) and prior64/model.json (its model card), embedded with
// go:embed. README.md beside them documents how the prior was trained and
// what it is worth.
//
// LoadPrior64 returns the network with its typed metadata
// (score.ModelInfo), ready to wrap in posterior.NewNetworkPrior; the
// diffusion it belongs to is Model.VE().
package models
