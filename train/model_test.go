package train

import (
	"math"

	"github.com/lenscore/lenscore/nn"
)

// linModel is a tiny model that is linear in its parameters:
//
//	ε_i = f(σ)·(a_i x_i + c_i) + b·ln σ,   f(σ) = σ/(σ² + s0²)
//
// With a = −1 and c = mean pixel value it is the optimal denoiser of a
// Gaussian with per-pixel variance s0², so DSM training can lower its loss.
type linModel struct {
	n       int
	a, c, b *nn.Param
	x, sig  []float32
	batch   int
	out     []float32
}

const s0 = 0.3

func newLinModel(n, maxBatch int) *linModel {
	return &linModel{n: n, a: nn.NewParam("lin.a", n), c: nn.NewParam("lin.c", n), b: nn.NewParam("lin.b", 1),
		x: make([]float32, maxBatch*n), sig: make([]float32, maxBatch), out: make([]float32, maxBatch*n)}
}

func (m *linModel) Params() []*nn.Param { return []*nn.Param{m.a, m.c, m.b} }

func f(s float32) float32 { return s / (s*s + s0*s0) }

func (m *linModel) Forward(x, sigma []float32, batch int) []float32 {
	m.batch = batch
	copy(m.x, x[:batch*m.n])
	copy(m.sig, sigma[:batch])
	out := m.out[:batch*m.n]
	for k := range batch {
		fs, ls := f(sigma[k]), float32(math.Log(float64(sigma[k])))
		for i := range m.n {
			out[k*m.n+i] = fs*(m.a.Data[i]*x[k*m.n+i]+m.c.Data[i]) + m.b.Data[0]*ls
		}
	}
	return out
}

func (m *linModel) Backward(dout []float32) {
	for k := range m.batch {
		fs, ls := f(m.sig[k]), float32(math.Log(float64(m.sig[k])))
		for i := range m.n {
			d := dout[k*m.n+i]
			m.a.Grad[i] += d * fs * m.x[k*m.n+i]
			m.c.Grad[i] += d * fs
			m.b.Grad[0] += d * ls
		}
	}
}
