package posterior

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// Operator is a linear map A from the source plane (N pixels) to the image
// plane (M pixels), with its exact adjoint. lens.Operator implements it.
// Apply and Adjoint must be safe for concurrent use (they only read A): the
// sampler calls them from several goroutines on different chains.
type Operator interface {
	// Dims returns (M, N): image-plane and source-plane sizes.
	Dims() (m, n int)
	// Apply sets dst (length M) to A·x (x of length N).
	Apply(dst, x []float64)
	// Adjoint sets dst (length N) to Aᵀ·r (r of length M).
	Adjoint(dst, r []float64)
}

// RowNormer is implemented by operators that can report the squared norm of
// each row of A, (AAᵀ)_ii. It is optional: NewDiag detects it and otherwise
// computes the norms with M adjoint applications. The variant
// RowNorms2(dst []float64) is accepted too.
type RowNormer interface {
	RowNorms2() []float64
}

// Prior is a diffusion prior: for a batch of images it returns the score of
// the time-t marginal p_t(x) = ∫ p(x₀) N(x | x₀, σ(t)² I) dx₀.
type Prior interface {
	// Dim returns the number of pixels of one image.
	Dim() int
	// Score writes ∇ₓ log p_t(x) into dst for a batch of n images stored one
	// after the other in x (len(x) = len(dst) = n·Dim()). All images share t.
	Score(dst, x []float64, n int, t float64) error
}

// Likelihood is the score of the time-t likelihood, ∇ₓ log p_t(y | x), for
// one image. Score must be safe for concurrent use as long as each
// goroutine passes its own scratch slice of length ScratchLen().
type Likelihood interface {
	// Dim returns the number of source pixels N.
	Dim() int
	// ScratchLen returns the length of the scratch slice Score needs.
	ScratchLen() int
	// Score writes ∇ₓ log p_t(y|x) into dst (length N) for the image x.
	Score(dst, x []float64, t float64, scratch []float64)
}

// GaussianPrior is a Gaussian prior N(μ₀, Σ₀) whose time-t marginal
// N(μ₀, Σ₀ + σ(t)² I) has an exact score. Score, ApplySqrt and Draw use
// internal buffers and are not safe for concurrent use.
type GaussianPrior interface {
	Prior
	// Mean returns μ₀ (length Dim; callers must not modify it).
	Mean() []float64
	// Cov returns Σ₀ as a dense matrix (for small Dim).
	Cov() *mat.SymDense
	// ApplySqrt sets dst = L z where L Lᵀ = Σ₀.
	ApplySqrt(dst, z []float64)
	// Scaled returns the prior N(μ₀, a² Σ₀).
	Scaled(a float64) GaussianPrior
}

// Fingerprinter is implemented by priors and likelihoods that can describe
// themselves (name, parameters, hash of the data) for checkpoint checks.
type Fingerprinter interface {
	Fingerprint() string
}

// Draw writes an exact sample of the Gaussian prior p into dst.
func Draw(dst []float64, p GaussianPrior, r *rand.Rand) {
	z := make([]float64, len(dst))
	for i := range z {
		z[i] = r.NormFloat64()
	}
	p.ApplySqrt(dst, z)
	mu := p.Mean()
	for i := range dst {
		dst[i] += mu[i]
	}
}

// JacobianPrior is a Prior that can also apply the transpose of its score's
// Jacobian, (∂s/∂x)ᵀ v with s = ∇ₓ log p_t(x), to the batch of its last
// ScoreKeep call. The sampler uses it when Options.PriorJacobian is set.
type JacobianPrior interface {
	Prior
	// ScoreKeep is Score, keeping what VJP needs.
	ScoreKeep(dst, x []float64, n int, t float64) error
	// VJP sets dst = (∂s/∂x)ᵀ v image by image for the batch and time of
	// the last ScoreKeep call (v and dst of length n·Dim()).
	VJP(dst, v []float64, n int) error
}

// CotangentLikelihood is a likelihood whose score has the form
//
//	∇ₓ log p_t(y|x) = (∂x̂₀/∂x)ᵀ v,   x̂₀ = x + σ² ∇ₓ log p_t(x),
//
// so that with the prior's Jacobian it is v + σ² (∂s/∂x)ᵀ v.
type CotangentLikelihood interface {
	PriorAware
	// Cotangent writes v (length N) for the image x with prior score ps.
	Cotangent(dst, x, ps []float64, t float64, scratch []float64)
}

// BatchLimiter is implemented by priors that take at most MaxBatch images
// in one call (NetworkPrior). The prior's Jacobian (Options.PriorJacobian)
// needs every chain in one call, so the sampler refuses more chains.
type BatchLimiter interface {
	MaxBatch() int
}

// checkWholeBatch enforces the whole-batch rule of the prior's Jacobian:
// all chains go through the prior in one call.
func checkWholeBatch(prior Prior, chains int) error {
	if b, ok := prior.(BatchLimiter); ok && b.MaxBatch() < chains {
		return fmt.Errorf("the prior's Jacobian needs all %d chains in one call, the prior takes at most %d (raise its batch size to %d)", chains, b.MaxBatch(), chains)
	}
	return nil
}
