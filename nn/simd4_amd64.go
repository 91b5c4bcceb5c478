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

// deint4AVX: q_m[j] = r[4j+m] for j < n (a multiple of 8).
//
//go:noescape
func deint4AVX(r, q0, q1, q2, q3 *float32, n int)

// inter4AVX: y[4j+m] = bias + z_m[j] for j < n (a multiple of 8).
//
//go:noescape
func inter4AVX(z0, z1, z2, z3, y *float32, n int, bias float32)

// bt6RowAVX applies the F(4×4) input transform along one image row of
// 4·ntx values (zero outside): y[b·ys + t] = Σ_m Bᵀ[b][m] x[4t − 1 + m]
// for t < ntx (a multiple of 8), b < 6; deint4 and bt6 fused.
//
//go:noescape
func bt6RowAVX(x *float32, ntx int, y *float32, ys int)
