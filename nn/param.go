package nn

// Param is one trainable tensor: its values and the gradient of the loss with
// respect to them, both float32, row-major in the order given by Shape.
// Backward passes accumulate into Grad; optimisers read Grad and update Data.
type Param struct {
	Name  string // unique, dot-separated, stable across runs (used as the weights-file key)
	Shape []int
	Data  []float32
	Grad  []float32
}

// NewParam allocates a zeroed parameter of the given shape.
func NewParam(name string, shape ...int) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param{Name: name, Shape: append([]int(nil), shape...), Data: make([]float32, n), Grad: make([]float32, n)}
}

// Size returns the number of elements.
func (p *Param) Size() int { return len(p.Data) }

// ZeroGrad sets the gradient to zero.
func (p *Param) ZeroGrad() { clear(p.Grad) }
