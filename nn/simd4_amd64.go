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
// for t < ntx (a multiple of 8), b < 6; deint4 and bt6 fused. The layers
// now run bt6TileAVX, which does this and the vertical pass in one call;
// this kernel stays as the reference it is tested against.
//
//go:noescape
func bt6RowAVX(x *float32, ntx int, y *float32, ys int)

// bt4TileAVX applies the F(2×2) input transform to one row of tiles:
// r_a is input row 2ty − 1 + a (2·ntx values, zero outside; rows outside
// the image are zero rows), and v[(4a + b)·vs + t] = (Bᵀ d_t B)[a][b] for
// t < ntx (a positive multiple of 8): deint, the shifted copies and the
// two bt4 passes of winoInputBand fused, rounded as they are. It has no
// AVX-512 version: the AVX-512 path runs it too.
//
//go:noescape
func bt4TileAVX(r0, r1, r2, r3 *float32, ntx int, v *float32, vs int)

// bt4Tile4AVX is bt4TileAVX for ntx = 4 (8-pixel-wide images), in 128-bit
// registers; bitwise equal to the Go passes.
//
//go:noescape
func bt4Tile4AVX(r0, r1, r2, r3 *float32, v *float32, vs int)

// bt6TileAVX applies the F(4×4) input transform to one row of tiles:
// rows[a] is input row 4ty − 1 + a (4·ntx values, zero outside; rows
// outside the image are zero rows), and v[(6a + b)·vs + t] = (Bᵀ d_t B)[a][b]
// for t < ntx (a positive multiple of 8), using tmp (304 floats) as
// scratch: bt6RowAVX and bt6AVX fused, bitwise equal to them. Its AVX-512
// twin bt6TileAVX512 runs instead when ntx is a multiple of 16 (bt6TileVec).
//
//go:noescape
func bt6TileAVX(rows *[6]*float32, ntx int, v *float32, vs int, tmp *float32)

// at6TileAVX is the F(4×4) output transform of one row of tiles of one
// output channel: with m_k[t] = m[k·ms + t] (k < 36),
// y[r·w + 4t + j] = bias + (Aᵀ m_t A)[r][j] for r, j < 4, t < ntx (a
// positive multiple of 8), then y = (y + s)·k if s is not nil (same layout
// as y); tmp (192 floats) is scratch. Bitwise equal to at6AVX for each
// pass, then inter4AVX and addScaleAVX. Its AVX-512 twin at6TileAVX512
// runs instead when ntx is a multiple of 16 (at6TileVec).
//
//go:noescape
func at6TileAVX(m *float32, ms, ntx int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32)

// a6AVX applies A = (Aᵀ)ᵀ, the 6×4 adjoint of the F(4×4) output transform
// (see winograd4.go), lane-wise: y_k[j] = Σ_m Aᵀ[m][k] x_m[j] for j < n (a
// multiple of 8); bitwise equal to a6's Go loop. The weight gradient's dY
// transform A dY Aᵀ runs it along both axes. a6Vec chooses it or its
// AVX-512 twin a6AVX512.
//
//go:noescape
func a6AVX(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 *float32, n int)

// ady4TileAVX: the F(4×4) weight gradient's D = A dY Aᵀ of nty rows of
// tiles of one channel (row stride w, w/4 a positive multiple of 8) into
// d[(6i + j)·ds + t], bit for bit deint4 and the two a6 passes; tmp holds
// 192 floats. See simd4_amd64.s; its AVX-512 twin ady4TileAVX512 runs
// instead when w/4 is a multiple of 16 (ady4TileVec).
//
//go:noescape
func ady4TileAVX(dy *float32, w, nty int, d *float32, ds int, tmp *float32)
