package posterior

// Operator is a linear map A from the source plane (N pixels) to the image
// plane (M pixels), with its exact adjoint. lens.Operator implements it.
type Operator interface {
	// Dims returns (M, N): image-plane and source-plane sizes.
	Dims() (m, n int)
	// Apply sets dst (length M) to A·x (x of length N).
	Apply(dst, x []float64)
	// Adjoint sets dst (length N) to Aᵀ·r (r of length M).
	Adjoint(dst, r []float64)
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
