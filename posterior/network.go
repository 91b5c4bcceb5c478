package posterior

import (
	"errors"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/sde"
)

// Denoiser is a trained noise-prediction network ε_θ(x, σ): x holds batch
// images of float32 pixels one after the other, sigma one noise level per
// image; it returns batch·dim values (which may alias an internal buffer
// valid until the next call).
type Denoiser interface {
	Forward(x, sigma []float32, batch int) []float32
}

// Differentiable is a Denoiser that back-propagates to its input:
// Backward(dout) after a training-mode Forward, then InputGrad() holds
// (∂ε/∂x)ᵀ dout. ZeroGrad clears the parameter gradients Backward
// accumulates (unused here). SetInference switches between the
// inference mode (a faster Forward that keeps nothing for Backward) and
// the training mode.
type Differentiable interface {
	Denoiser
	Backward(dout []float32)
	InputGrad() []float32
	ZeroGrad()
	SetInference(on bool)
}

// NetworkPrior adapts a Denoiser to Prior: score = ε_θ(x, σ(t))/σ(t).
// Batches larger than maxBatch are processed in chunks. It converts through
// preallocated float32 buffers and is not safe for concurrent use. It sets
// the mode of a Differentiable network itself (see Score and ScoreKeep) and
// assumes the weights do not change while it is used: a program that
// trains the network afterwards calls its SetInference(false) first.
type NetworkPrior struct {
	net      Denoiser
	ve       sde.VE
	dim      int
	maxBatch int
	xb, sb   []float32
	name     string
	// ScoreKeep's batch and σ, and the float32 cotangent buffer of VJP
	keptN   int
	keptSig float64
	vb      []float32
	// training: the network may be in training mode (as built, or after
	// ScoreKeep); the next Score puts a Differentiable network in
	// inference mode.
	training bool
	fixed    bool // ScoreKeep has set training mode with fixed weights
}

// weightsFixer is a Differentiable network that can keep its transformed
// weights in training mode when promised they do not change
// (score.Net.SetWeightsFixed).
type weightsFixer interface {
	SetWeightsFixed(on bool)
}

// NewNetworkPrior returns the adapter for images of dim pixels.
func NewNetworkPrior(net Denoiser, ve sde.VE, dim, maxBatch int) (*NetworkPrior, error) {
	if net == nil {
		return nil, errors.New("posterior: network prior: nil network")
	}
	if err := ve.Validate(); err != nil {
		return nil, err
	}
	if dim < 1 || maxBatch < 1 {
		return nil, fmt.Errorf("posterior: network prior: dim=%d and maxBatch=%d must be positive", dim, maxBatch)
	}
	_, diff := net.(Differentiable)
	return &NetworkPrior{net: net, ve: ve, dim: dim, maxBatch: maxBatch, training: diff,
		xb: make([]float32, dim*maxBatch), sb: make([]float32, maxBatch), name: fmt.Sprintf("network(%T,dim=%d)", net, dim)}, nil
}

// SetName sets the fingerprint used in checkpoints (e.g. a hash of the weights).
func (p *NetworkPrior) SetName(name string) { p.name = name }

// Fingerprint returns the name set by SetName.
func (p *NetworkPrior) Fingerprint() string { return p.name }

// Dim returns the image size.
func (p *NetworkPrior) Dim() int { return p.dim }

// Score evaluates the network in chunks of at most maxBatch images (in
// inference mode when the network is Differentiable: the first Score, and
// the first after a ScoreKeep, switch it).
func (p *NetworkPrior) Score(dst, x []float64, n int, t float64) error {
	p.keptN = 0
	if d, ok := p.net.(Differentiable); ok && p.training {
		d.SetInference(true)
		p.training, p.fixed = false, false
	}
	return p.score(dst, x, n, t)
}

func (p *NetworkPrior) score(dst, x []float64, n int, t float64) error {
	d := p.dim
	if len(x) != n*d || len(dst) != n*d {
		return fmt.Errorf("posterior: network prior: batch of %d needs %d values, got x=%d dst=%d", n, n*d, len(x), len(dst))
	}
	sig := p.ve.Sigma(t)
	inv := 1 / sig
	for k0 := 0; k0 < n; k0 += p.maxBatch {
		b := min(p.maxBatch, n-k0)
		xs := x[k0*d : (k0+b)*d]
		for i, v := range xs {
			p.xb[i] = float32(v)
		}
		for i := 0; i < b; i++ {
			p.sb[i] = float32(sig)
		}
		eps := p.net.Forward(p.xb[:b*d], p.sb[:b], b)
		if len(eps) != b*d {
			return fmt.Errorf("posterior: network prior: network returned %d values for a batch of %d×%d", len(eps), b, d)
		}
		ds := dst[k0*d : (k0+b)*d]
		for i, e := range eps {
			v := float64(e) * inv
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("posterior: network prior: non-finite score at t=%g (image %d, pixel %d)", t, k0+i/d, i%d)
			}
			ds[i] = v
		}
	}
	return nil
}

// ScoreKeep implements JacobianPrior when the network is Differentiable:
// Score for a batch of at most maxBatch images in one training-mode
// Forward call, which keeps the activations VJP needs. (Score switches a
// Differentiable network to inference mode, ScoreKeep to training mode;
// each switch drops the network's cached weight transforms, so a sampler
// switches once per run, at PriorJacobian's threshold. In training mode a
// network with SetWeightsFixed, such as score.Net, is told that its weights
// do not change, so that it keeps those transforms from one ScoreKeep and
// VJP to the next.)
func (p *NetworkPrior) ScoreKeep(dst, x []float64, n int, t float64) error {
	net, ok := p.net.(Differentiable)
	if !ok {
		return fmt.Errorf("posterior: network prior: %T cannot back-propagate to its input", p.net)
	}
	if n > p.maxBatch {
		return fmt.Errorf("posterior: network prior: a Jacobian needs the whole batch in one call (%d images, at most %d)", n, p.maxBatch)
	}
	if !p.fixed {
		net.SetInference(false)
		if f, ok := net.(weightsFixer); ok {
			f.SetWeightsFixed(true)
		}
		p.training, p.fixed = true, true
	}
	p.keptN, p.keptSig = 0, p.ve.Sigma(t)
	if err := p.score(dst, x, n, t); err != nil {
		return err
	}
	p.keptN = n
	return nil
}

// inputGradOnly is a Differentiable network that can skip its parameter
// gradients in Backward (score.Net.SetParamGrads).
type inputGradOnly interface {
	SetParamGrads(on bool)
}

// VJP implements JacobianPrior: s = ε_θ(x, σ)/σ, so (∂s/∂x)ᵀ v =
// (∂ε_θ/∂x)ᵀ v / σ, by back-propagating v through the network.
func (p *NetworkPrior) VJP(dst, v []float64, n int) error {
	d := p.dim
	if n != p.keptN || n == 0 {
		return fmt.Errorf("posterior: network prior: VJP of %d images after a ScoreKeep of %d", n, p.keptN)
	}
	if len(v) != n*d || len(dst) != n*d {
		return fmt.Errorf("posterior: network prior: VJP of a batch of %d needs %d values, got v=%d dst=%d", n, n*d, len(v), len(dst))
	}
	net := p.net.(Differentiable)
	if len(p.vb) < n*d {
		p.vb = make([]float32, p.maxBatch*d)
	}
	for i, u := range v {
		if math.IsNaN(u) || math.IsInf(u, 0) {
			return fmt.Errorf("posterior: network prior: non-finite cotangent (image %d, pixel %d)", i/d, i%d)
		}
		p.vb[i] = float32(u)
	}
	if ig, ok := net.(inputGradOnly); ok {
		ig.SetParamGrads(false)
		net.Backward(p.vb[:n*d])
		ig.SetParamGrads(true)
	} else {
		net.Backward(p.vb[:n*d])
		net.ZeroGrad()
	}
	g := net.InputGrad()
	if len(g) < n*d {
		return fmt.Errorf("posterior: network prior: input gradient has %d values for a batch of %d×%d", len(g), n, d)
	}
	inv := 1 / p.keptSig
	for i := range dst {
		u := float64(g[i]) * inv
		if math.IsNaN(u) || math.IsInf(u, 0) {
			return fmt.Errorf("posterior: network prior: non-finite Jacobian product (image %d, pixel %d)", i/d, i%d)
		}
		dst[i] = u
	}
	return nil
}

// MaxBatch returns the most images one network call takes; a Jacobian
// (ScoreKeep, VJP) needs the whole batch in one call.
func (p *NetworkPrior) MaxBatch() int { return p.maxBatch }
