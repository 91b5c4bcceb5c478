package nn

import "math/rand/v2"

// Linear is a dense layer on n×In row vectors: y = x Wᵀ + b, Weight of
// shape [Out, In], Bias [Out]. The whole batch is one GEMM (the layer is
// tiny), so its gradients go straight into Param.Grad; the forward product
// is taken row by row so that each output row is independent of n.
type Linear struct {
	e            *Engine
	In, Out      int
	Weight, Bias *Param

	n    int
	x, y []float32
	dx   []float32
}

// NewLinear returns a dense layer with zero weights; call Init.
func NewLinear(e *Engine, name string, in, out int) *Linear {
	return &Linear{e: e, In: in, Out: out, Weight: NewParam(name+".weight", out, in), Bias: NewParam(name+".bias", out)}
}

// Init sets the weights by VarianceScaling(fanIn=In, fanOut=Out) and zeroes
// the bias (NCSN++ default_init).
func (l *Linear) Init(scale float64, rng *rand.Rand) {
	VarianceScaling(l.Weight.Data, l.In, l.Out, scale, rng)
	clear(l.Bias.Data)
}

// Params returns Weight and Bias.
func (l *Linear) Params() []*Param { return []*Param{l.Weight, l.Bias} }

// Forward implements Layer.
func (l *Linear) Forward(x []float32, n int) []float32 {
	l.x, l.n = x, n
	l.y = grow(l.y, n*l.Out)
	// One product per row: a GEMM over the whole batch may round a row
	// differently depending on n, and outputs must not depend on the batch.
	for i := 0; i < n; i++ {
		copy(l.y[i*l.Out:(i+1)*l.Out], l.Bias.Data)
		l.e.gemm.Sgemm(false, true, 1, l.Out, l.In, 1, x[i*l.In:], l.In, l.Weight.Data, l.In, 1, l.y[i*l.Out:], l.Out)
	}
	return l.y
}

// Backward implements Layer.
func (l *Linear) Backward(dout []float32) []float32 {
	n := l.n
	l.dx = grow(l.dx, n*l.In)
	if l.e.ParamGrads() {
		for i := 0; i < n; i++ {
			for o, v := range dout[i*l.Out : (i+1)*l.Out] {
				l.Bias.Grad[o] += v
			}
		}
		l.e.gemm.Sgemm(true, false, l.Out, l.In, n, 1, dout, l.Out, l.x, l.In, 1, l.Weight.Grad, l.In)
	}
	l.e.gemm.Sgemm(false, false, n, l.In, l.Out, 1, dout, l.Out, l.Weight.Data, l.In, 0, l.dx, l.In)
	return l.dx
}
