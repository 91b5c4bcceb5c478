package posterior

import (
	"fmt"
	"sync"

	"github.com/lenscore/lenscore/linalg"
)

// BatchLikelihood is a Likelihood that also scores a whole batch of
// images at once, e.g. by one matrix product over the chains. The sampler
// then calls ScoreBatch once per pass, from one goroutine, instead of
// Score per chain. The score of image c must not depend on the other
// images or on the batch size, so that chain k of a seed stays the same
// for any number of chains.
type BatchLikelihood interface {
	Likelihood
	// ScoreBatch writes ∇ₓ log p_t(y|x) of the n images in x (n·Dim()
	// values, one image after the other) into dst.
	ScoreBatch(dst, x []float64, n int, t float64) error
}

// ExactBlock is the largest number of chains per matrix product of
// Exact.ScoreBatch; a block's row count is rounded up to a multiple of
// exactRows with zero images. Products whose row count is such a multiple
// compute each row with the same instruction sequence (full register
// tiles of the GEMM kernels, whose sums run over the inner dimension in a
// fixed order), so an image's score does not depend on the batch size or
// on its place in the batch; TestExactBatchMatchesPerChain checks it on
// the back-end in use.
const ExactBlock = 64

// exactRows is the multiple the row count of ScoreBatch's products is
// padded to.
const exactRows = 8

// exactBatch holds the block buffers of Exact.ScoreBatch (ExactBlock×N
// each): the differences, the eigen-coefficients and the scores.
type exactBatch struct {
	mu      sync.Mutex // one ScoreBatch at a time
	lib     *linalg.Lib
	d, w, o []float64
}

// applyBatch adds sign·(S + s2 I)⁻¹ d to the b images in out (b×n,
// row-major), with w (b×n) as scratch: for S = VΛVᵀ, with vt = Vᵀ
// row-major, W = D V = D vtᵀ, W[c][k] /= λ_k + s2, out += sign·W vt.
func (o *eigOp) applyBatch(lib *linalg.Lib, out, d, w []float64, b int, s2, sign float64) {
	n := o.n
	if o.vt == nil {
		f := sign / (o.scalar + s2)
		for i, v := range d[:b*n] {
			out[i] += f * v
		}
		return
	}
	lib.Gemm(false, true, b, n, n, 1, d, n, o.vt, n, 0, w, n)
	for c := 0; c < b; c++ {
		wc := w[c*n : (c+1)*n]
		for k, l := range o.lam {
			wc[k] /= l + s2
		}
	}
	lib.Gemm(false, false, b, n, n, sign, w, n, o.vt, n, 1, out, n)
}

// ScoreBatch implements BatchLikelihood: the scores of Score for n images,
// computed up to ExactBlock images at a time (padded to a multiple of 8)
// by two matrix products per covariance (OpenBLAS dgemm on Threads() threads via package linalg, or
// gonum) instead of two matrix–vector products per image. Each product
// streams Vᵀ once for the whole block, where Score streams it once per
// image. Concurrent calls (several samplers sharing one Exact) run one
// after the other; the buffers (3·ExactBlock·N floats) are allocated on
// the first call.
func (e *Exact) ScoreBatch(dst, x []float64, n int, t float64) error {
	d := len(e.muPost)
	if n < 0 || len(x) != n*d || len(dst) != n*d {
		return fmt.Errorf("posterior: exact likelihood: batch of %d needs %d values, got x=%d dst=%d", n, n*d, len(x), len(dst))
	}
	bt := &e.batch
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.o == nil {
		bt.lib = linalg.New()
		bt.d, bt.w, bt.o = make([]float64, ExactBlock*d), make([]float64, ExactBlock*d), make([]float64, ExactBlock*d)
	}
	s := e.sigma(t)
	s2 := s * s
	for c0 := 0; c0 < n; c0 += ExactBlock {
		m := min(ExactBlock, n-c0)
		b := (m + exactRows - 1) / exactRows * exactRows
		xs := x[c0*d : (c0+m)*d]
		clear(bt.o[:b*d])
		clear(bt.d[m*d : b*d]) // padding images: zero differences, zero scores
		for c := 0; c < m; c++ {
			xc, dc := xs[c*d:(c+1)*d], bt.d[c*d:(c+1)*d]
			for i, mu := range e.muPost {
				dc[i] = xc[i] - mu
			}
		}
		e.post.applyBatch(bt.lib, bt.o, bt.d, bt.w, b, s2, -1)
		for c := 0; c < m; c++ {
			xc, dc := xs[c*d:(c+1)*d], bt.d[c*d:(c+1)*d]
			for i, mu := range e.muPrior {
				dc[i] = xc[i] - mu
			}
		}
		e.prior.applyBatch(bt.lib, bt.o, bt.d, bt.w, b, s2, 1)
		copy(dst[c0*d:(c0+m)*d], bt.o[:m*d])
	}
	return nil
}
