package nn

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
