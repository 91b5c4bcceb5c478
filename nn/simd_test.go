package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near32(got float32, want, tol float64) bool {
	return math.Abs(float64(got)-want) <= tol*(1+math.Abs(want))
}

// TestRowKernels checks the vector row kernels (and their scalar tails)
// against float64 evaluations of the same formulas, for lengths that
// exercise full vectors, tails and both together.
func TestRowKernels(t *testing.T) {
	t.Logf("SIMD kernels: %v", haveSIMD())
	rng := rand.New(rand.NewPCG(3, 4))
	const tol = 2e-6
	for _, n := range []int{1, 7, 8, 9, 16, 23, 24, 40, 64, 4099} {
		x, h, s, y := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		y2 := make([]float32, n)
		for i := range x {
			x[i] = float32(3 * rng.NormFloat64())
		}
		x[0] = 200 // exercises the clamp of exp
		m, r, gam, bet := float32(0.3), float32(1.7), float32(-1.2), float32(0.4)
		gnSiluRow(x, h, s, y, m, r, gam, bet)
		gnSiluRow(x, nil, nil, y2, m, r, gam, bet)
		for i := range x {
			hw := (float64(x[i]) - float64(m)) * float64(r)
			a := float64(gam)*hw + float64(bet)
			sw := 1 / (1 + math.Exp(-a))
			if !near32(h[i], hw, tol) || !near32(s[i], sw, tol) || !near32(y[i], a*sw, tol) || y2[i] != y[i] {
				t.Fatalf("n=%d i=%d: forward h,s,y,y(inference) = %g,%g,%g,%g want %g,%g,%g", n, i, h[i], s[i], y[i], y2[i], hw, sw, a*sw)
			}
		}
		dy, dx := make([]float32, n), make([]float32, n)
		for i := range dy {
			dy[i] = float32(rng.NormFloat64())
		}
		sg, sb := gnSiluBwdRow(h, dy, s, dx, gam, bet)
		var wg, wb float64
		for i := range h {
			a := float64(gam)*float64(h[i]) + float64(bet)
			sv := float64(s[i])
			da := float64(dy[i]) * sv * (1 + a*(1-sv))
			wg += da * float64(h[i])
			wb += da
			if !near32(dx[i], float64(gam)*da, tol) {
				t.Fatalf("n=%d i=%d: dx = %g want %g", n, i, dx[i], float64(gam)*da)
			}
		}
		if !near32(sg, wg, 1e-5*math.Sqrt(float64(n))) || !near32(sb, wb, 1e-5*math.Sqrt(float64(n))) {
			t.Fatalf("n=%d: sums %g,%g want %g,%g", n, sg, sb, wg, wb)
		}
		ds := append([]float32(nil), dy...)
		gnBwdFinish(ds, h, r, m, gam)
		for i := range ds {
			w := float64(r) * (float64(dy[i]) - float64(m) - float64(h[i])*float64(gam))
			if !near32(ds[i], w, tol) {
				t.Fatalf("n=%d i=%d: finish %g want %g", n, i, ds[i], w)
			}
		}
		row := append([]float32(nil), x...)
		row[0] = -300
		sum := expSub(row, 1.5)
		var ws float64
		for i := range row {
			v := float64(x[i]) - 1.5
			if i == 0 {
				v = -87 // clamped
			}
			e := math.Exp(v)
			ws += e
			if !near32(row[i], e, tol) {
				t.Fatalf("n=%d i=%d: exp %g want %g", n, i, row[i], e)
			}
		}
		if !near32(sum, ws, 1e-6*float64(n)) {
			t.Fatalf("n=%d: exp sum %g want %g", n, sum, ws)
		}
	}
}

// TestMeanVar checks the float64 mean and squared-deviation sums against a
// plain float64 loop.
func TestMeanVar(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 5, 8, 13, 16, 24, 64, 1001} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(2 + rng.NormFloat64())
			if n == 1001 {
				x[i] = float32(1000 + 1e-3*rng.NormFloat64()) // large offset, tiny spread
			}
		}
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		mu := s / float64(n)
		var ss float64
		for _, v := range x {
			ss += (float64(v) - mu) * (float64(v) - mu)
		}
		gm, gs := meanVar(x)
		if math.Abs(gm-mu) > 1e-12*math.Abs(mu) || math.Abs(gs-ss) > 1e-12*(1+ss) {
			t.Fatalf("n=%d: meanVar = %v, %v want %v, %v", n, gm, gs, mu, ss)
		}
	}
}

// TestWinogradKernels checks bt4 and at4 (vector part and tail) against
// their definitions.
func TestWinogradKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{3, 8, 21} {
		x := make([][]float32, 4)
		for k := range x {
			x[k] = make([]float32, n)
			for j := range x[k] {
				x[k][j] = float32(rng.NormFloat64())
			}
		}
		y := [4][]float32{make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)}
		bt4(x[0], x[1], x[2], x[3], y[0], y[1], y[2], y[3])
		u, w := make([]float32, n), make([]float32, n)
		at4(x[0], x[1], x[2], x[3], u, w)
		for j := 0; j < n; j++ {
			a, b, c, d := x[0][j], x[1][j], x[2][j], x[3][j]
			if y[0][j] != a-c || y[1][j] != b+c || y[2][j] != c-b || y[3][j] != b-d {
				t.Fatalf("n=%d j=%d: bt4 = %v want %v", n, j, []float32{y[0][j], y[1][j], y[2][j], y[3][j]}, []float32{a - c, b + c, c - b, b - d})
			}
			if u[j] != a+b+c || w[j] != b-c-d {
				t.Fatalf("n=%d j=%d: at4 = %v, %v want %v, %v", n, j, u[j], w[j], a+b+c, b-c-d)
			}
		}
	}
}

// TestInterleave checks deint and inter (vector part and tail) against
// their definitions, and that they are inverse to each other.
func TestInterleave(t *testing.T) {
	for _, n := range []int{1, 4, 8, 13, 32} {
		r := make([]float32, 2*n)
		for i := range r {
			r[i] = float32(i) + 0.25
		}
		ev, od := make([]float32, n), make([]float32, n)
		deint(r, ev, od)
		for j := 0; j < n; j++ {
			if ev[j] != r[2*j] || od[j] != r[2*j+1] {
				t.Fatalf("n=%d j=%d: deint = %v, %v want %v, %v", n, j, ev[j], od[j], r[2*j], r[2*j+1])
			}
		}
		y := make([]float32, 2*n)
		inter(ev, od, y, 1.5)
		for i := range y {
			if y[i] != r[i]+1.5 {
				t.Fatalf("n=%d i=%d: inter = %v want %v", n, i, y[i], r[i]+1.5)
			}
		}
	}
}

// TestExpNaN checks that a NaN input stays NaN through exp on both the
// vector path (element 3 of a 16-long row) and the scalar tail (element 17
// of a 19-long row; with the purego tag both are the Go expf), that the
// other elements are unaffected, and that a softmax row containing a NaN
// (attention's max-subtract, exp, normalise) comes out NaN rather than
// silently finite.
func TestExpNaN(t *testing.T) {
	nan := float32(math.NaN())
	if e := expf(nan); e == e {
		t.Fatalf("expf(NaN) = %g, want NaN", e)
	}
	for _, c := range []struct{ n, at int }{{16, 3}, {19, 17}} {
		row := make([]float32, c.n)
		for i := range row {
			row[i] = float32(i) / 8
		}
		row[c.at] = nan
		sum := expSub(row, 0)
		for i, v := range row {
			if i == c.at {
				if v == v {
					t.Fatalf("n=%d: exp(NaN) at %d = %g, want NaN", c.n, i, v)
				}
				continue
			}
			if w := math.Exp(float64(i) / 8); !near32(v, w, 1e-6) {
				t.Fatalf("n=%d i=%d: exp %g want %g", c.n, i, v, w)
			}
		}
		if sum == sum {
			t.Fatalf("n=%d: exp sum %g, want NaN", c.n, sum)
		}
		// GroupNorm+SiLU: a NaN input gives a NaN output, in the
		// three-vector loop (n = 40, at 3 and 17) and in its tail (at 35).
		x, y := make([]float32, 40), make([]float32, 40)
		h, s := make([]float32, 40), make([]float32, 40)
		for _, at := range []int{c.at, 35} {
			x[at] = nan
		}
		gnSiluRow(x, nil, nil, y, 0.1, 2, 1.5, 0.2)
		gnSiluRow(x, h, s, x, 0.1, 2, 1.5, 0.2)
		for i := range y {
			if nanIn := i == c.at || i == 35; (y[i] != y[i]) != nanIn || (x[i] != x[i]) != nanIn {
				t.Fatalf("SiLU of NaN at %d: y[%d] = %g, %g", c.at, i, y[i], x[i])
			}
		}
		// Softmax as in AttnBlock.forwardOne, on the vector path (8 rows
		// of 16) and the scalar one (rows of 19).
		p := c.n
		att := make([]float32, 8*p)
		for i := range att {
			att[i] = float32(i%5) / 4
		}
		att[2*p+c.at] = nan
		attT := make([]float32, 8*p)
		softmaxRows(att, attT, p, 0, 8, 0.5)
		for r := 0; r < 8; r++ {
			for j := 0; j < p; j++ {
				if v := att[r*p+j]; (v != v) != (r == 2) {
					t.Fatalf("n=%d: softmax[%d][%d] = %g; want NaN exactly in row 2", c.n, r, j, v)
				}
			}
		}
	}
}

// TestSoftmaxRows checks softmaxRows against a float64 softmax, its
// transposed copy bit for bit, and the vector path (rows multiple of 8,
// p multiple of 8) against the scalar one (same operations) bit for bit.
func TestSoftmaxRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sh := range []struct{ p, r0, r1 int }{{64, 8, 40}, {256, 0, 32}, {24, 3, 11}, {20, 0, 8}} {
		p := sh.p
		rows := sh.r1 + 2
		att := make([]float32, rows*p)
		for i := range att {
			att[i] = float32(4 * rng.NormFloat64())
		}
		orig := append([]float32(nil), att...)
		nr := sh.r1 - sh.r0
		attT := make([]float32, p*nr)
		const scale = 0.125
		softmaxRows(att, attT, p, sh.r0, sh.r1, scale)
		for r := 0; r < rows; r++ {
			in := r >= sh.r0 && r < sh.r1
			row := orig[r*p : (r+1)*p]
			m := math.Inf(-1)
			for _, v := range row {
				m = max(m, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(scale * (float64(v) - m))
			}
			// scalar path, same float32 operations
			sc := append([]float32(nil), row...)
			ms := sc[0]
			for j, v := range sc {
				ms = max(ms, v)
				sc[j] = v * scale
			}
			iv := 1 / expSub(sc, ms*scale)
			for j := range sc {
				sc[j] *= iv
			}
			for j := 0; j < p; j++ {
				got := att[r*p+j]
				if !in {
					if got != row[j] {
						t.Fatalf("p=%d: row %d outside [%d,%d) changed", p, r, sh.r0, sh.r1)
					}
					continue
				}
				want := math.Exp(scale*(float64(row[j])-m)) / sum
				if math.Abs(float64(got)-want) > 1e-6 || got != sc[j] {
					t.Fatalf("p=%d r=%d j=%d: softmax %g, scalar %g, want %g", p, r, j, got, sc[j], want)
				}
				if attT[j*nr+r-sh.r0] != got {
					t.Fatalf("p=%d r=%d j=%d: transpose %g want %g", p, r, j, attT[j*nr+r-sh.r0], got)
				}
			}
		}
	}
}

// TestFillCols checks fillCols (vector part and tail) against a plain loop
// and that it writes nothing outside the block.
func TestFillCols(t *testing.T) {
	for _, sh := range []struct{ p, j0, j1 int }{{40, 3, 30}, {16, 0, 16}, {9, 2, 7}} {
		b := []float32{1, -2, 3.5}
		y := make([]float32, len(b)*sh.p)
		for i := range y {
			y[i] = 9
		}
		fillCols(y, b, sh.p, sh.j0, sh.j1)
		for r := range b {
			for j := 0; j < sh.p; j++ {
				want := float32(9)
				if j >= sh.j0 && j < sh.j1 {
					want = b[r]
				}
				if y[r*sh.p+j] != want {
					t.Fatalf("%+v: y[%d][%d] = %g want %g", sh, r, j, y[r*sh.p+j], want)
				}
			}
		}
	}
}

// TestWinogradShortOutput checks that bt4 and at4 panic (bounds check)
// instead of writing past a too-short output slice on the vector path.
func TestWinogradShortOutput(t *testing.T) {
	x := make([]float32, 16)
	long, short := make([]float32, 16), make([]float32, 8)
	for name, f := range map[string]func(){
		"bt4": func() { bt4(x, x, x, x, long, long, long, short) },
		"at4": func() { at4(x, x, x, x, long, short) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a short output did not panic", name)
				}
			}()
			f()
		}()
	}
}

// TestFillAddScale checks fill and addScale (vector part and tail) and
// that neither writes past the slice.
func TestFillAddScale(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 23, 64} {
		buf := make([]float32, n+1)
		buf[n] = -7
		fill(buf[:n], 2.5)
		for i, v := range buf[:n] {
			if v != 2.5 {
				t.Fatalf("n=%d: fill: y[%d] = %g", n, i, v)
			}
		}
		s := make([]float32, n+1)
		for i := range s {
			s[i] = float32(i) - 3
		}
		addScale(buf[:n], s[:n], 0.5)
		for i, v := range buf[:n] {
			if want := (2.5 + s[i]) * 0.5; v != want {
				t.Fatalf("n=%d: addScale: y[%d] = %g, want %g", n, i, v, want)
			}
		}
		if buf[n] != -7 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
	}
}
