package posterior

import (
	"errors"
	"fmt"
	"strings"
)

// LikelihoodKind names a time-t likelihood score; its values are the words
// of lenscore's --likelihood flag.
type LikelihoodKind string

// The likelihood scores of NewLikelihood.
const (
	// LikelihoodConvolved is the paper's likelihood (NewConvolved).
	LikelihoodConvolved LikelihoodKind = "convolved"
	// LikelihoodDiag uses the exact per-pixel variance σ_n² + σ²(AAᵀ)_ii
	// (NewDiag).
	LikelihoodDiag LikelihoodKind = "diag"
	// LikelihoodExact is the exact score of a Gaussian prior (NewExact
	// of the exact posterior, an O(N³) set-up).
	LikelihoodExact LikelihoodKind = "exact"
	// LikelihoodProjected projects p(x₀|x_t) on a Gaussian: Tweedie's mean
	// from the prior's score, covariance of a Gaussian proxy
	// (NewProjected).
	LikelihoodProjected LikelihoodKind = "projected"
	// LikelihoodProjectedJacobian is LikelihoodProjected with the prior's
	// own Jacobian (Options.PriorJacobian): every chain goes through the
	// prior in one call.
	LikelihoodProjectedJacobian LikelihoodKind = "projected-jacobian"
)

// LikelihoodKinds lists every kind, in the order of the documentation.
var LikelihoodKinds = []LikelihoodKind{LikelihoodConvolved, LikelihoodDiag, LikelihoodExact, LikelihoodProjected, LikelihoodProjectedJacobian}

// kindList is "convolved, diag, exact, projected or projected-jacobian".
func kindList() string {
	w := make([]string, len(LikelihoodKinds))
	for i, k := range LikelihoodKinds {
		w[i] = string(k)
	}
	return strings.Join(w[:len(w)-1], ", ") + " or " + w[len(w)-1]
}

// ParseLikelihoodKind returns the kind named s.
func ParseLikelihoodKind(s string) (LikelihoodKind, error) {
	for _, k := range LikelihoodKinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("posterior: likelihood %q must be %s", s, kindList())
}

// Projected reports whether the kind is a projected likelihood (it needs a
// Gaussian proxy of the prior).
func (k LikelihoodKind) Projected() bool {
	return k == LikelihoodProjected || k == LikelihoodProjectedJacobian
}

// PriorJacobian reports whether the kind uses the prior's own Jacobian;
// Options.PriorJacobian must then be set (Configure does it).
func (k LikelihoodKind) PriorJacobian() bool { return k == LikelihoodProjectedJacobian }

// PriorBatch returns the batch size (images per call) a prior built for
// chains chains should have, given the size batch wanted otherwise: the
// whole-batch rule of the prior's Jacobian raises it to chains.
func (k LikelihoodKind) PriorBatch(batch, chains int) int {
	if k.PriorJacobian() {
		return max(batch, chains)
	}
	return batch
}

// Configure sets opt.PriorJacobian for the kind, and opt.JacobianBelow to
// jacobianBelow (σ(t) below which the prior's Jacobian is used; 0:
// always) when the kind uses it; it refuses a negative or NaN value.
func (k LikelihoodKind) Configure(opt *Options, jacobianBelow float64) error {
	opt.PriorJacobian = k.PriorJacobian()
	opt.JacobianBelow = 0
	if !k.PriorJacobian() {
		return nil
	}
	if !(jacobianBelow >= 0) {
		return fmt.Errorf("posterior: likelihood %s: JacobianBelow = %g must be ≥ 0", k, jacobianBelow)
	}
	opt.JacobianBelow = jacobianBelow
	return nil
}

// LikelihoodConfig is the data and the prior information NewLikelihood
// builds a likelihood from.
type LikelihoodConfig struct {
	Op     Operator  // A, source plane to image plane
	Y      []float64 // observed image (M pixels)
	SigmaN []float64 // noise σ_n: 1 value or a noise map of M
	Keep   []bool    // mask of the pixels that enter (nil: all)
	// Sigma is the diffusion's noise schedule σ(t) (sde.VE.Sigma).
	Sigma func(float64) float64
	// Prior is the sampler's prior. Exact needs a GaussianPrior; the
	// projected kinds use it as their proxy when Proxy is nil and it is a
	// *GRF; ProjectedJacobian needs a JacobianPrior that takes Chains
	// images in one call.
	Prior Prior
	// Proxy is the Gaussian proxy of the projected kinds.
	Proxy *GRF
	// Chains is the number of chains the sampler will run (checked
	// against the prior's batch size for ProjectedJacobian; 0: unchecked).
	Chains int
}

// NewLikelihood builds the likelihood score of the given kind. For
// LikelihoodExact it computes the exact Gaussian posterior (Invert with
// the full covariance) first. The projected-jacobian likelihood is the
// projected one; the sampler's Options.PriorJacobian (Configure) makes it
// use the prior's Jacobian, and NewLikelihood refuses a prior without one
// or one whose batch cannot hold every chain.
func NewLikelihood(kind LikelihoodKind, c LikelihoodConfig) (Likelihood, error) {
	switch kind {
	case LikelihoodConvolved:
		return NewConvolved(c.Op, c.Y, c.SigmaN, c.Keep, c.Sigma)
	case LikelihoodDiag:
		return NewDiag(c.Op, c.Y, c.SigmaN, c.Keep, c.Sigma)
	case LikelihoodExact:
		gp, ok := c.Prior.(GaussianPrior)
		if !ok {
			return nil, fmt.Errorf("posterior: likelihood exact needs a Gaussian prior, not %T", c.Prior)
		}
		if c.Op == nil {
			return nil, errors.New("posterior: likelihood exact: nil operator")
		}
		inv, err := Invert(c.Op, c.Y, c.SigmaN, gp, InvertOptions{Keep: c.Keep, Scale: 1, FullCov: true})
		if err != nil {
			return nil, fmt.Errorf("posterior: likelihood exact: %w", err)
		}
		return NewExact(&Gaussian{Mean: inv.Mean, Cov: inv.Cov}, gp, c.Sigma)
	case LikelihoodProjected, LikelihoodProjectedJacobian:
		proxy := c.Proxy
		if proxy == nil {
			if g, ok := c.Prior.(*GRF); ok {
				proxy = g
			} else {
				return nil, fmt.Errorf("posterior: likelihood %s needs a Gaussian proxy of the prior (LikelihoodConfig.Proxy) or a GRF prior", kind)
			}
		}
		if kind == LikelihoodProjectedJacobian {
			if _, ok := c.Prior.(JacobianPrior); !ok {
				return nil, fmt.Errorf("posterior: likelihood %s needs a prior with a Jacobian, not %s", kind, describe(c.Prior))
			}
			if err := checkWholeBatch(c.Prior, c.Chains); err != nil {
				return nil, fmt.Errorf("posterior: likelihood %s: %w", kind, err)
			}
		}
		return NewProjected(c.Op, c.Y, c.SigmaN, c.Keep, proxy, c.Sigma)
	}
	return nil, fmt.Errorf("posterior: likelihood %q must be %s", string(kind), kindList())
}
