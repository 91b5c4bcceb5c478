//go:build !purego

package nn

// bt6AVX applies the F(4×4, 3×3) input transform Bᵀ (see winograd4.go)
// lane-wise: y_k[j] = Σ_m Bᵀ[k][m] x_m[j] for j < n (a multiple of 8).
//
//go:noescape
func bt6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int)

// at6AVX applies the F(4×4, 3×3) output transform Aᵀ lane-wise:
// y_k[j] = Σ_m Aᵀ[k][m] x_m[j] for j < n (a multiple of 8).
//
//go:noescape
func at6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int)
