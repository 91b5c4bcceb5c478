package nn

import "math"

// SiLU is the elementwise activation y = x·σ(x) (swish), σ the logistic
// function; dy/dx = σ(x)(1 + x(1 − σ(x))). Size is the per-sample length.
type SiLU struct {
	Size int
	n    int
	x, y []float32
	dx   []float32
}

// NewSiLU returns a SiLU layer for samples of size elements.
func NewSiLU(size int) *SiLU { return &SiLU{Size: size} }

// Params returns nil.
func (s *SiLU) Params() []*Param { return nil }

// Forward implements Layer.
func (s *SiLU) Forward(x []float32, n int) []float32 {
	s.x, s.n = x, n
	s.y = grow(s.y, n*s.Size)
	for i, v := range x[:n*s.Size] {
		s.y[i] = v * sigmoid(v)
	}
	return s.y
}

// Backward implements Layer.
func (s *SiLU) Backward(dout []float32) []float32 {
	s.dx = grow(s.dx, s.n*s.Size)
	for i, v := range s.x[:s.n*s.Size] {
		sv := sigmoid(v)
		s.dx[i] = dout[i] * sv * (1 + v*(1-sv))
	}
	return s.dx
}

// expf returns e^x in float32 with relative error below ~2e-7 for
// |x| ≤ 87 (clamped beyond): x = k·ln2 + r with |r| ≤ ln2/2, e^r by a
// degree-7 Taylor polynomial, 2^k through the exponent bits. It is several
// times faster than math.Exp and is used by SiLU and softmax.
func expf(x float32) float32 {
	x = min(max(x, -87), 87)
	k := float32(int32(x*1.44269504088896341 + 0.5*sign(x)))
	r := x - k*0.693145751953125 - k*1.42860682030941723212e-6
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

func sign(x float32) float32 {
	if x < 0 {
		return -1
	}
	return 1
}
