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

// NetworkPrior adapts a Denoiser to Prior: score = ε_θ(x, σ(t))/σ(t).
// Batches larger than maxBatch are processed in chunks. It converts through
// preallocated float32 buffers and is not safe for concurrent use.
type NetworkPrior struct {
	net      Denoiser
	ve       sde.VE
	dim      int
	maxBatch int
	xb, sb   []float32
	name     string
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
	return &NetworkPrior{net: net, ve: ve, dim: dim, maxBatch: maxBatch,
		xb: make([]float32, dim*maxBatch), sb: make([]float32, maxBatch), name: fmt.Sprintf("network(%T,dim=%d)", net, dim)}, nil
}

// SetName sets the fingerprint used in checkpoints (e.g. a hash of the weights).
func (p *NetworkPrior) SetName(name string) { p.name = name }

// Fingerprint returns the name set by SetName.
func (p *NetworkPrior) Fingerprint() string { return p.name }

// Dim returns the image size.
func (p *NetworkPrior) Dim() int { return p.dim }

// Score evaluates the network in chunks of at most maxBatch images.
func (p *NetworkPrior) Score(dst, x []float64, n int, t float64) error {
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
