package nn

import (
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestEngineRunsEveryTaskOnce checks Run and RunDynamic both while the
// workers are polling (back-to-back calls) and after they have parked
// (a pause well beyond the polling time), and that Close ends the pool.
func TestEngineRunsEveryTaskOnce(t *testing.T) {
	before := runtime.NumGoroutine()
	e := NewEngine(NaiveGemm{}, 3)
	const n = 37
	var hits [n]atomic.Int32
	var byWorker [3]atomic.Int32
	fn := func(w, i int) {
		hits[i].Add(1)
		byWorker[w].Add(1)
	}
	for round := 0; round < 40; round++ {
		if round%10 == 9 {
			time.Sleep(5 * time.Millisecond) // let the workers park
		}
		for i := range hits {
			hits[i].Store(0)
		}
		for w := range byWorker {
			byWorker[w].Store(0)
		}
		if round%2 == 0 {
			e.Run(n, fn)
			// static split: worker w gets [w·n/3, (w+1)·n/3)
			for w := 0; w < 3; w++ {
				if got, want := byWorker[w].Load(), int32((w+1)*n/3-w*n/3); got != want {
					t.Fatalf("round %d: worker %d ran %d tasks, want %d", round, w, got, want)
				}
			}
		} else {
			e.RunDynamic(n, fn)
		}
		for i := range hits {
			if h := hits[i].Load(); h != 1 {
				t.Fatalf("round %d: task %d ran %d times", round, i, h)
			}
		}
	}
	e.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after Close, %d before NewEngine", g, before)
	}
}

// TestAddRowSums checks the bias-gradient row sums (eight partial sums)
// against float64 sums, for lengths with and without a tail of fewer than
// eight, a window [lo, hi) inside the row and a scale.
func TestAddRowSums(t *testing.T) {
	rng := NewRand(31)
	for _, n := range []int{1, 7, 8, 13, 64, 1029} {
		const rows, lo = 3, 5
		stride := n + 11
		m := randVec(rng, rows*stride, 1)
		dst := []float32{0.5, -1, 2}
		want := make([]float64, rows)
		for r := range want {
			var s, a float64
			for _, v := range m[r*stride+lo : r*stride+lo+n] {
				s += float64(v)
				a += math.Abs(float64(v))
			}
			want[r] = float64(dst[r]) + 0.25*s
			addRowSums(dst[r:r+1], m[r*stride:], stride, lo, lo+n, 0.25)
			if d := math.Abs(float64(dst[r]) - want[r]); d > 4e-7*(float64(n)*0.25*a+math.Abs(want[r])) {
				t.Errorf("n=%d row %d: %g, float64 sum %g", n, r, dst[r], want[r])
			}
		}
	}
}

// TestKernelPathsSum8 runs sum8 on every kernel path, for lengths with
// and without a tail, against its definition (eight in-order lane sums,
// combined pairwise) evaluated with float32 operations one at a time, bit
// for bit, and against the float64 sum within float32 rounding.
func TestKernelPathsSum8(t *testing.T) {
	rng := NewRand(35)
	for _, path := range KernelPaths() {
		withKernelPath(t, path, func(t *testing.T) {
			for _, n := range []int{3, 8, 16, 29, 256, 1029} {
				x := randVec(rng, n, 1)
				var s [8]float32
				var f, a float64
				for j, v := range x {
					s[j%8] += v
					f += float64(v)
					a += math.Abs(float64(v))
				}
				for l := n % 8; l < 8; l++ { // the tail step adds +0 to the lanes it has no element for
					s[l] += 0
				}
				want := ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
				got := sum8(x)
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%s n=%d: sum8 = %g, lane definition %g", path, n, got, want)
				}
				if d := math.Abs(float64(got) - f); d > 4e-7*float64(n)*a {
					t.Fatalf("%s n=%d: sum8 = %g, float64 %g", path, n, got, f)
				}
			}
		})
	}
}

// TestAddTo: the parallel dst += s·src equals the serial loop bit for bit
// (s = 1 and s ≠ 1, lengths around the task size) and does not allocate.
func TestAddTo(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	rng := NewRand(32)
	for _, n := range []int{5, addChunk, 3*addChunk + 17} {
		for _, s := range []float32{1, 0.70710677} {
			dst, src := randVec(rng, n, 1), randVec(rng, n+3, 1)
			want := append([]float32(nil), dst...)
			for j := range want {
				want[j] += src[j] * s
			}
			e.AddTo(dst, src, s)
			for j := range want {
				if math.Float32bits(dst[j]) != math.Float32bits(want[j]) {
					t.Fatalf("n=%d s=%g: dst[%d] = %g, want %g", n, s, j, dst[j], want[j])
				}
			}
			if a := testing.AllocsPerRun(3, func() { e.AddTo(dst, src, s) }); a != 0 {
				t.Errorf("AddTo allocates %v times", a)
			}
		}
	}
}

// TestKernelPathsAddScaled runs addScaled (AddTo's and the gradient
// reductions' d += v·s) on every kernel path, for lengths that take the
// 32-float loop, the 8-float loop (on avx512: 16 lanes, the last 8 masked)
// and the Go tail, against the correctly
// rounded float32 operations computed in float64 (exact for a product and
// a sum of float32 values rounded once each), bit for bit.
func TestKernelPathsAddScaled(t *testing.T) {
	rng := NewRand(34)
	for _, path := range KernelPaths() {
		withKernelPath(t, path, func(t *testing.T) {
			for _, n := range []int{5, 8, 37, 160, 203} {
				for _, s := range []float32{1, 0.70710677, -3} {
					d, v := randVec(rng, n+2, 1), randVec(rng, n, 1)
					want := append([]float32(nil), d...)
					for j := 0; j < n; j++ {
						p := float32(float64(v[j]) * float64(s))
						want[j] = float32(float64(want[j]) + float64(p))
					}
					addScaled(d[:n], v, s)
					for j := range want {
						if math.Float32bits(d[j]) != math.Float32bits(want[j]) {
							t.Fatalf("%s n=%d s=%g: d[%d] = %g, want %g", path, n, s, j, d[j], want[j])
						}
					}
				}
			}
		})
	}
}

// TestKernelPathsScale runs scaleTo (ResBlock's dL/dh = s·dL/dy) on every
// kernel path, for lengths with and without a Go tail, against the
// correctly rounded float32 product computed in float64, bit for bit;
// the element after y must stay untouched.
func TestKernelPathsScale(t *testing.T) {
	rng := NewRand(35)
	for _, path := range KernelPaths() {
		withKernelPath(t, path, func(t *testing.T) {
			for _, n := range []int{5, 8, 24, 37, 4096} {
				for _, s := range []float32{0.70710677, -3} {
					x, y := randVec(rng, n, 1), randVec(rng, n+1, 1)
					want := append([]float32(nil), y...)
					for j := 0; j < n; j++ {
						want[j] = float32(float64(x[j]) * float64(s))
					}
					scaleTo(y[:n], x, s)
					for j := range want {
						if math.Float32bits(y[j]) != math.Float32bits(want[j]) {
							t.Fatalf("%s n=%d s=%g: y[%d] = %g, want %g", path, n, s, j, y[j], want[j])
						}
					}
				}
			}
		})
	}
}

// TestNearest2Parallel: Nearest2 with an engine (as in Upsample) gives the
// serial output and input gradient bit for bit, without allocating.
func TestNearest2Parallel(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	rng := NewRand(33)
	const n, c, h, w = 3, 5, 6, 8
	x, d := randVec(rng, n*c*h*w, 1), randVec(rng, n*c*4*h*w, 1)
	ser, par := NewNearest2(c, h, w), NewNearest2(c, h, w)
	par.E = e
	y0 := append([]float32(nil), ser.Forward(x, n)...)
	dx0 := append([]float32(nil), ser.Backward(d)...)
	y1, dx1 := par.Forward(x, n), par.Backward(d)
	for i := range y0 {
		if y1[i] != y0[i] {
			t.Fatalf("y[%d] = %g, serial %g", i, y1[i], y0[i])
		}
	}
	for i := range dx0 {
		if dx1[i] != dx0[i] {
			t.Fatalf("dx[%d] = %g, serial %g", i, dx1[i], dx0[i])
		}
	}
	// y is x repeated over 2×2 blocks; dx sums each block of d.
	if y0[2*w*2+1] != x[w] || dx0[0] != d[0]+d[1]+d[2*w]+d[2*w+1] {
		t.Fatal("nearest up-sampling or its adjoint wrong")
	}
	if a := testing.AllocsPerRun(3, func() { par.Forward(x, n); par.Backward(d) }); a != 0 {
		t.Errorf("parallel Nearest2 allocates %v times", a)
	}
}
