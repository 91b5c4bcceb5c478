//go:build !purego

package nn

// haveSIMD reports whether the AVX2+FMA kernels of simd_amd64.s are to run
// (the CPU has them and no lower path was asked for; see kernels.go).
func haveSIMD() bool { return kernelLevel.Load() >= levelAVX2 }

// gnSiluFwdAVX: h = (x−m)·r, a = gam·h + bet, s = σ(a), y = a·s for n
// (a multiple of 8) elements; h and s are stored only if store ≠ 0.
//
//go:noescape
func gnSiluFwdAVX(x, xh, sg, y *float32, n int, m, r, gam, bet float32, store int)

// gnSiluBwdAVX: a = gam·h + bet, da = dy·s·(1 + a(1−s)), dx = gam·da;
// acc[0:8] gets the lane sums of da·h, acc[8:16] those of da.
//
//go:noescape
func gnSiluBwdAVX(h, dy, sg, dx *float32, n int, gam, bet float32, acc *[16]float32)

// gnBwdFinishAVX: ds = r·(ds − m1 − h·m2).
//
//go:noescape
func gnBwdFinishAVX(ds, h *float32, n int, r, m1, m2 float32)

// expSubAVX: row = e^(row − m); acc gets the lane sums of the new row.
//
//go:noescape
func expSubAVX(row *float32, n int, m float32, acc *[8]float32)

// bt4AVX: y0 = x0 − x2, y1 = x1 + x2, y2 = x2 − x1, y3 = x1 − x3 (Winograd Bᵀ).
//
//go:noescape
func bt4AVX(x0, x1, x2, x3, y0, y1, y2, y3 *float32, n int)

// at4AVX: u = x0 + x1 + x2, w = x1 − x2 − x3 (Winograd Aᵀ).
//
//go:noescape
func at4AVX(x0, x1, x2, x3, u, w *float32, n int)

// deintAVX: ev[j] = r[2j], od[j] = r[2j+1].
//
//go:noescape
func deintAVX(r, ev, od *float32, n int)

// interAVX: y[2j] = bias + a[j], y[2j+1] = bias + b[j].
//
//go:noescape
func interAVX(a, b, y *float32, n int, bias float32)

// addScaleAVX: y[j] = (y[j] + s[j])·k, n a positive multiple of 8.
//
//go:noescape
func addScaleAVX(y, s *float32, n int, k float32)

// fillAVX: y[j] = v for j < n, n a positive multiple of 8.
//
//go:noescape
func fillAVX(y *float32, n int, v float32)

// sumSqF64AVX returns Σ (x[j] − shift) and Σ (x[j] − shift)² in float64,
// n a positive multiple of 8.
//
//go:noescape
func sumSqF64AVX(x *float32, n int, shift float64) (s1, s2 float64)

// normT8AVX: for the 8 rows i of src (stride lds), src[i][j] *= inv[i],
// then dst[j][i] = src[i][j] (dst stride ldd), for j < n, n a positive
// multiple of 8.
//
//go:noescape
func normT8AVX(src *float32, lds int, inv *[8]float32, dst *float32, ldd int, n int)

// maxScaleAVX returns max(row) and sets row[j] *= scale, n a positive
// multiple of 8.
//
//go:noescape
func maxScaleAVX(row *float32, n int, scale float32) float32

// fillColsAVX: y[r·ld + j] = b[r] for r < rows, j < n, n a positive
// multiple of 8.
//
//go:noescape
func fillColsAVX(y *float32, ld int, b *float32, rows, n int)

// adyaAVX writes the 16 streams A·dY·Aᵀ of ntx (a multiple of 8) 2×2
// tiles whose rows are y0 and y1 (2·ntx floats each) to d + k·dst,
// k < 16 (the Winograd weight gradient's transform of dY; see a4).
//
//go:noescape
func adyaAVX(y0, y1 *float32, ntx int, d *float32, dst int)

// axpyAVX sets y[j] += x[j]·s for j < n (a positive multiple of 8), the
// product rounded before the sum (no FMA), as addScaled's Go loop; with
// s = 1 it adds x exactly. axpyVec chooses it or its AVX-512 twin.
//
//go:noescape
func axpyAVX(y, x *float32, n int, s float32)

// sum8AVX sets acc[l] = Σ_i x[8i + l] over the n values of x (n a positive
// multiple of 8), each lane summed in order from +0: sum8's eight partial
// sums, bit for bit. It has no AVX-512 version.
//
//go:noescape
func sum8AVX(x *float32, n int, acc *[8]float32)

// scaleAVX: y[j] = x[j]·k for j < n (a positive multiple of 8).
//
//go:noescape
func scaleAVX(y, x *float32, n int, k float32)
