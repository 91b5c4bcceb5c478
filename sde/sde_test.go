package sde

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestScheduleEndpointsAndDerivative(t *testing.T) {
	v, err := NewVE(1e-4, 250)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Sigma(0); math.Abs(got-1e-4)/1e-4 > 1e-12 {
		t.Errorf("σ(0) = %g, want 1e-4", got)
	}
	if got := v.Sigma(1); math.Abs(got-250)/250 > 1e-12 {
		t.Errorf("σ(1) = %g, want 250", got)
	}
	// g² must equal dσ²/dt (central difference).
	for _, tt := range []float64{0.01, 0.3, 0.5, 0.9, 0.99} {
		h := 1e-6
		d := (math.Pow(v.Sigma(tt+h), 2) - math.Pow(v.Sigma(tt-h), 2)) / (2 * h)
		if rel := math.Abs(d-v.G2(tt)) / v.G2(tt); rel > 1e-6 {
			t.Errorf("t=%g: dσ²/dt=%g, g²=%g (rel %g)", tt, d, v.G2(tt), rel)
		}
		if got := v.TimeOf(v.Sigma(tt)); math.Abs(got-tt) > 1e-12 {
			t.Errorf("TimeOf(Sigma(%g)) = %g", tt, got)
		}
	}
}

func TestNoNaNAcrossSchedule(t *testing.T) {
	for _, smax := range []float64{1, 250, 1e4} {
		v := VE{SigmaMin: 1e-4, SigmaMax: smax}
		for i := 0; i <= 100000; i++ {
			tt := float64(i) / 100000
			for _, x := range []float64{v.Sigma(tt), v.G(tt), v.G2(tt)} {
				if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
					t.Fatalf("σmax=%g t=%g: non-finite or non-positive value %g", smax, tt, x)
				}
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range [][2]float64{{0, 1}, {-1, 1}, {1, 1}, {2, 1}, {1e-4, math.Inf(1)}, {math.NaN(), 1}, {1e-4, math.NaN()}} {
		if _, err := NewVE(c[0], c[1]); err == nil {
			t.Errorf("NewVE(%g, %g) accepted", c[0], c[1])
		}
	}
}

// The paper quotes p(2000) ≈ 0.64 and p(8000) ≈ 0.99 at n = 256² with
// σ_min = 1e-4; its σ_max (the largest pairwise distance of PROBES) is not
// stated. Every σ_max in [220, 250] reproduces both figures to two decimals.
func TestTechnique2PaperFigures(t *testing.T) {
	for _, smax := range []float64{220, 235, 250} {
		v := VE{SigmaMin: 1e-4, SigmaMax: smax}
		p2 := v.StepProbability(2000, 256*256)
		p8 := v.StepProbability(8000, 256*256)
		if math.Round(p2*100) != 64 {
			t.Errorf("σmax=%g: p(2000) = %.4f, paper 0.64", smax, p2)
		}
		if math.Round(p8*100) != 99 {
			t.Errorf("σmax=%g: p(8000) = %.4f, paper 0.99", smax, p8)
		}
	}
}

func TestStepsForIsSmallest(t *testing.T) {
	v := VE{SigmaMin: 1e-4, SigmaMax: 230}
	for _, dim := range []int{64 * 64, 256 * 256} {
		for _, target := range []float64{0.5, 0.9, 0.99} {
			n, err := v.StepsFor(dim, target)
			if err != nil {
				t.Fatal(err)
			}
			if v.StepProbability(n, dim) < target || (n > 1 && v.StepProbability(n-1, dim) >= target) {
				t.Errorf("dim=%d target=%g: N=%d is not the smallest (p(N)=%g, p(N-1)=%g)",
					dim, target, n, v.StepProbability(n, dim), v.StepProbability(n-1, dim))
			}
		}
	}
	if _, err := v.StepsFor(4096, 0.999); err == nil {
		t.Error("target above Φ(3)−Φ(−3) accepted")
	}
}

func TestSigmaMaxFromData(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	imgs := make([][]float32, 7)
	for i := range imgs {
		imgs[i] = make([]float32, 5)
		for k := range imgs[i] {
			imgs[i][k] = float32(r.NormFloat64())
		}
	}
	got, err := SigmaMaxFromData(imgs)
	if err != nil {
		t.Fatal(err)
	}
	// brute force, written differently: max over ordered pairs
	want := 0.0
	for i := range imgs {
		for j := range imgs {
			var s float64
			for k := range imgs[i] {
				s += math.Pow(float64(imgs[i][k]-imgs[j][k]), 2)
			}
			want = math.Max(want, math.Sqrt(s))
		}
	}
	if math.Abs(got-want) > 1e-5*want {
		t.Errorf("σmax = %g, want %g", got, want)
	}
	if _, err := SigmaMaxFromData(imgs[:1]); err == nil {
		t.Error("one image accepted")
	}
}

func TestTimes(t *testing.T) {
	ts := Times(4, 1e-3)
	if len(ts) != 5 || ts[0] != 1 || math.Abs(ts[4]-1e-3) > 1e-15 {
		t.Fatalf("Times = %v", ts)
	}
	for i := 1; i < len(ts); i++ {
		if !(ts[i] < ts[i-1]) {
			t.Fatalf("not decreasing: %v", ts)
		}
	}
}
