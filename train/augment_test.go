package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/weights"
)

// gaussImage is an n×n Gaussian of width w centred at (cx, cy) in the
// edge coordinates of Affine (pixel j covers [j, j+1]).
func gaussImage(n int, cx, cy, w float64) []float32 {
	pix := make([]float32, n*n)
	for y := range n {
		for x := range n {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			pix[y*n+x] = float32(math.Exp(-(dx*dx + dy*dy) / (2 * w * w)))
		}
	}
	return pix
}

func moments(pix []float32, n int) (sum, mx, my, vx, vy float64) {
	for y := range n {
		for x := range n {
			v := float64(pix[y*n+x])
			sum += v
			mx += v * (float64(x) + 0.5)
			my += v * (float64(y) + 0.5)
		}
	}
	mx, my = mx/sum, my/sum
	for y := range n {
		for x := range n {
			v := float64(pix[y*n+x])
			vx += v * (float64(x) + 0.5 - mx) * (float64(x) + 0.5 - mx)
			vy += v * (float64(y) + 0.5 - my) * (float64(y) + 0.5 - my)
		}
	}
	return sum, mx, my, vx / sum, vy / sum
}

// TestAffineIdentityAndShift: a = 1 with no shift is the identity and an
// integer shift moves every pixel, with mirrored pixels entering at the
// edges.
func TestAffineIdentityAndShift(t *testing.T) {
	const n = 9
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, n*n)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	dst := make([]float32, n*n)
	a := NewAffine(n)
	a.Set(1, 0, 0)
	a.Apply(dst, src)
	for i := range src {
		if dst[i] != src[i] {
			t.Fatalf("identity changed pixel %d: %v → %v", i, src[i], dst[i])
		}
	}
	a.Set(1, 2, -3)
	a.Apply(dst, src)
	for y := range n {
		for x := range n {
			want := src[mirror(y+3, n)*n+mirror(x-2, n)]
			if dst[y*n+x] != want {
				t.Fatalf("shift (2, −3): pixel (%d,%d) = %v, want %v", x, y, dst[y*n+x], want)
			}
		}
	}
	if a.Set(2.5, 0, 0) == nil || a.Set(1, math.NaN(), 0) == nil {
		t.Fatal("out-of-range magnification or NaN shift accepted")
	}
}

// TestAffineFluxAndMoments: for a Gaussian galaxy away from the edges, the
// flux is conserved for every magnification and shift. For a = 1 a shift
// by d = k + f (0 ≤ f < 1) is a convolution with the kernel (1−f, f): the
// centroid moves by d and the variance grows by f(1−f) exactly. For a ≠ 1
// the centroid goes to c + a(m − c) + d and the variance to about
// a²(v + 1/12) + 1/12 (the box integration of the input and of the output
// pixels each add 1/12 pixel² on average over the pixel phase).
func TestAffineFluxAndMoments(t *testing.T) {
	const n = 64
	src := gaussImage(n, 33.2, 30.7, 3.5)
	s0, mx0, my0, vx0, vy0 := moments(src, n)
	dst := make([]float32, n*n)
	a := NewAffine(n)
	c := float64(n) / 2
	frac := func(d float64) float64 { return d - math.Floor(d) }
	for _, tc := range []struct{ a, dx, dy float64 }{{1, 0.3, -1.7}, {1, -2.25, 0.5}, {0.8, 0, 0}, {0.9, 1.2, 0.4}, {1.1, -0.6, 2.5}, {1.25, 0, 0}} {
		if err := a.Set(tc.a, tc.dx, tc.dy); err != nil {
			t.Fatal(err)
		}
		a.Apply(dst, src)
		s, mx, my, vx, vy := moments(dst, n)
		wantMx, wantMy := c+tc.a*(mx0-c)+tc.dx, c+tc.a*(my0-c)+tc.dy
		wantVx, wantVy := tc.a*tc.a*(vx0+1./12)+1./12, tc.a*tc.a*(vy0+1./12)+1./12
		tolM, tolV := 5e-3, 1e-2
		if tc.a == 1 {
			fx, fy := frac(tc.dx), frac(tc.dy)
			wantVx, wantVy = vx0+fx*(1-fx), vy0+fy*(1-fy)
			tolM, tolV = 1e-5, 1e-5
		}
		if math.Abs(s/s0-1) > 1e-6 {
			t.Errorf("a=%g d=(%g,%g): flux %v, want %v", tc.a, tc.dx, tc.dy, s, s0)
		}
		if math.Abs(mx-wantMx) > tolM || math.Abs(my-wantMy) > tolM {
			t.Errorf("a=%g d=(%g,%g): centroid (%.5f, %.5f), want (%.5f, %.5f)", tc.a, tc.dx, tc.dy, mx, my, wantMx, wantMy)
		}
		if math.Abs(vx/wantVx-1) > tolV || math.Abs(vy/wantVy-1) > tolV {
			t.Errorf("a=%g d=(%g,%g): variances (%.5f, %.5f), want (%.5f, %.5f)", tc.a, tc.dx, tc.dy, vx, vy, wantVx, wantVy)
		}
	}
}

// TestAffineBruteForce compares Affine with the integral of the magnified,
// shifted piecewise-constant image over each output pixel, estimated on a
// fine grid of m×m points per output pixel.
func TestAffineBruteForce(t *testing.T) {
	const n, m = 8, 120
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, n*n)
	for i := range src {
		src[i] = float32(r.Float64())
	}
	sc, dx, dy := 0.83, 0.37, -0.61
	a := NewAffine(n)
	a.Set(sc, dx, dy)
	dst := make([]float32, n*n)
	a.Apply(dst, src)
	c := float64(n) / 2
	for o := range n * n {
		ox, oy := o%n, o/n
		s := 0.0
		for j := range m {
			for i := range m {
				u := float64(ox) + (float64(i)+0.5)/m
				v := float64(oy) + (float64(j)+0.5)/m
				px := mirror(int(math.Floor((u-c-dx)/sc+c)), n)
				py := mirror(int(math.Floor((v-c-dy)/sc+c)), n)
				s += float64(src[py*n+px])
			}
		}
		want := s / (m * m) / (sc * sc)
		// The grid misplaces the input pixels' edges by up to 1/(2m) of an
		// output pixel on each of ≤ 6 edges crossing the output pixel.
		if math.Abs(float64(dst[o])-want) > 6.0/m/(sc*sc) {
			t.Fatalf("pixel (%d,%d): %v, brute force %v", ox, oy, dst[o], want)
		}
	}
}

func augConfig(dir string) Config {
	c := testConfig(dir)
	c.Shift, c.Scale = 1.5, 0.15
	return c
}

// TestResumeWithShiftsAndScales: with shifts and scalings, a run cancelled
// at step 13 and resumed ends bit-identical to an uninterrupted run; the
// augmentation really changes the updates; and a second run with the same
// seed gives the same bits.
func TestResumeWithShiftsAndScales(t *testing.T) {
	data := blobData(12, 8)
	n := data.Size * data.Size
	run := func(cfg Config) snapshot {
		tr, err := New(cfg, newLinModel(n, 4), data)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Run(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		return snap(tr)
	}
	want := run(augConfig(t.TempDir()))
	if fmt.Sprint(run(augConfig(t.TempDir()))) != fmt.Sprint(want) {
		t.Fatal("two runs with the same seed differ")
	}
	if fmt.Sprint(run(testConfig(t.TempDir()))) == fmt.Sprint(want) {
		t.Fatal("shifts and scalings did not change the training")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	b, err := New(augConfig(dir), newLinModel(n, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	b.onStep = func(s int) {
		if s == 13 {
			cancel()
		}
	}
	if err := b.Run(ctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	if err := Resume(context.Background(), dir, 0, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	rb, err := Open(dir, newLinModel(n, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Config().Shift != 1.5 || rb.Config().Scale != 0.15 {
		t.Fatalf("checkpoint config shift %v scale %v, want 1.5 and 0.15", rb.Config().Shift, rb.Config().Scale)
	}
	if fmt.Sprint(snap(rb)) != fmt.Sprint(want) {
		t.Fatal("cancel+resume with shifts and scalings differs from the uninterrupted run")
	}
	meta := readEMAMeta(t, dir)
	if meta[MetaAugment] != "dihedral, shift 1.5 px, scale 0.15" {
		t.Errorf("model metadata %s = %q", MetaAugment, meta[MetaAugment])
	}
}

// TestAugmentedStepNoAlloc: shifts and scalings allocate nothing per step.
func TestAugmentedStepNoAlloc(t *testing.T) {
	tr, err := New(augConfig(""), newLinModel(64, 4), blobData(12, 8))
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(20, func() { tr.TrainStep() }); a != 0 {
		t.Fatalf("TrainStep allocates %v times per call", a)
	}
}

// TestAugmentConfigRejects: bad shift and scale settings are refused with
// the field's name.
func TestAugmentConfigRejects(t *testing.T) {
	data := blobData(12, 8)
	for _, c := range []struct {
		shift, scale float64
		want         string
	}{{-1, 0, "Shift"}, {math.Inf(1), 0, "Shift"}, {0, -0.1, "Scale"}, {0, 1.5, "Scale"}, {2.5, 0, "quarter"}} {
		cfg := testConfig("")
		cfg.Shift, cfg.Scale = c.shift, c.scale
		if _, err := New(cfg, newLinModel(64, 4), data); err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("shift %v scale %v: %v, want an error naming %s", c.shift, c.scale, err, c.want)
		}
	}
}

func readEMAMeta(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, EMAFile)); err != nil {
		t.Fatal(err)
	}
	meta, err := weights.ReadMeta(filepath.Join(dir, EMAFile))
	if err != nil {
		t.Fatal(err)
	}
	return meta
}
