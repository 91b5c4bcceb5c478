package lens

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
)

func relErr(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300)
}

// fdJacobian returns ∂α/∂θ by central differences of the deflection.
func fdJacobian(m Mass, x, y, h float64) (axx, axy, ayx, ayy float64) {
	ax1, ay1 := m.Deflection(x+h, y)
	ax0, ay0 := m.Deflection(x-h, y)
	bx1, by1 := m.Deflection(x, y+h)
	bx0, by0 := m.Deflection(x, y-h)
	return (ax1 - ax0) / (2 * h), (bx1 - bx0) / (2 * h), (ay1 - ay0) / (2 * h), (by1 - by0) / (2 * h)
}

func detJ(m Mass, x, y float64) float64 {
	axx, axy, ayx, ayy := fdJacobian(m, x, y, 1e-5)
	return (1-axx)*(1-ayy) - axy*ayx
}

func TestSISDeflectionMagnitude(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range []Mass{SIS{ThetaE: 1.3, CenterX: 0.2, CenterY: -0.1},
		SIE{ThetaE: 1.3, Q: 1, Phi: 0.7, CenterX: 0.2, CenterY: -0.1}} {
		for i := 0; i < 200; i++ {
			x, y := 4*rng.Float64()-2, 4*rng.Float64()-2
			ax, ay := m.Deflection(x, y)
			if e := math.Abs(math.Hypot(ax, ay) - 1.3); e > 1e-14 {
				t.Fatalf("%T: |α(%g,%g)| − θ_E = %g", m, x, y, e)
			}
			// Direction is radial away from the centre.
			if c := ((x-0.2)*ay - (y+0.1)*ax); math.Abs(c) > 1e-13 {
				t.Fatalf("%T: α not radial at (%g,%g): cross %g", m, x, y, c)
			}
		}
		if ax, ay := m.Deflection(0.2, -0.1); ax != 0 || ay != 0 {
			t.Fatalf("%T: α at centre = (%g,%g), want 0", m, ax, ay)
		}
	}
}

func TestSIEMagnificationIsothermal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := SIE{ThetaE: 1.2, Q: 0.6, Phi: 0.4, CenterX: 0.1, CenterY: -0.05}
	for i := 0; i < 200; i++ {
		x, y := 4*rng.Float64()-2, 4*rng.Float64()-2
		k := m.Convergence(x, y)
		if k > 5 {
			continue
		}
		det := detJ(m, x, y)
		mu, want := 1/det, 1/(1-2*k)
		if math.Abs(det-(1-2*k)) > 1e-7 {
			t.Fatalf("μ at (%g,%g) = %g, want 1/(1−2κ) = %g", x, y, mu, want)
		}
	}
}

func TestSIECriticalCurve(t *testing.T) {
	m := SIE{ThetaE: 1.1, Q: 0.5, Phi: 0.9, CenterX: -0.2, CenterY: 0.3}
	for i := 0; i < 24; i++ {
		a := 2 * math.Pi * float64(i) / 24 // angle in the major-axis frame
		ca, sa := math.Cos(a), math.Sin(a)
		r := m.ThetaE / math.Sqrt(m.Q*ca*ca+sa*sa/m.Q) // κ = ½ here
		pt := func(r float64) (float64, float64) {
			xl, yl := r*ca, r*sa
			s, c := math.Sincos(m.Phi)
			return m.CenterX + c*xl - s*yl, m.CenterY + s*xl + c*yl
		}
		x, y := pt(r)
		if k := m.Convergence(x, y); math.Abs(k-0.5) > 1e-14 {
			t.Fatalf("κ on the curve = %g", k)
		}
		if d := detJ(m, x, y); math.Abs(d) > 1e-8 {
			t.Fatalf("det J on κ=½ curve at angle %g = %g", a, d)
		}
		xi, yi := pt(0.95 * r)
		xo, yo := pt(1.05 * r)
		din, dout := detJ(m, xi, yi), detJ(m, xo, yo)
		if !(din < 0 && dout > 0) {
			t.Fatalf("det J does not change sign across the curve: %g, %g", din, dout)
		}
	}
}

// keetonDeflection evaluates the SIE deflection in its major-axis frame from
// the integral representation for κ(ξ), ξ² = x² + y²/q² (Keeton 2001):
// αx = q x J0, αy = q y J1, Jn = ∫₀¹ κ(ξ(u)) (1 − (1−q²)u)^{−n−½} du,
// ξ(u)² = u (x² + y²/(1 − (1−q²)u)); with u = t² to remove the 1/√u
// singularity of κ ∝ 1/ξ.
func keetonDeflection(thetaE, q, x, y float64) (ax, ay float64) {
	c := thetaE / (2 * math.Sqrt(q)) // κ = c/ξ
	qp2 := 1 - q*q
	j := func(n float64) float64 {
		return quad.Fixed(func(tt float64) float64 {
			w := 1 - qp2*tt*tt
			// κ(ξ(t²))·2t = 2c / sqrt(x² + y²/w)
			return 2 * c / math.Sqrt(x*x+y*y/w) / math.Pow(w, n+0.5)
		}, 0, 1, 400, quad.Legendre{}, 0)
	}
	return q * x * j(0), q * y * j(1)
}

func TestSIEDeflectionVsIntegral(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, q := range []float64{0.2, 0.5, 0.8, 0.99} {
		phi, cx, cy := 0.7, 0.15, -0.3
		m := SIE{ThetaE: 1.4, Q: q, Phi: phi, CenterX: cx, CenterY: cy}
		for i := 0; i < 30; i++ {
			x, y := 4*rng.Float64()-2, 4*rng.Float64()-2
			// Rotate to the major-axis frame by hand.
			dx, dy := x-cx, y-cy
			xl := math.Cos(phi)*dx + math.Sin(phi)*dy
			yl := -math.Sin(phi)*dx + math.Cos(phi)*dy
			axl, ayl := keetonDeflection(1.4, q, xl, yl)
			wx := math.Cos(phi)*axl - math.Sin(phi)*ayl
			wy := math.Sin(phi)*axl + math.Cos(phi)*ayl
			ax, ay := m.Deflection(x, y)
			if math.Abs(ax-wx) > 1e-8 || math.Abs(ay-wy) > 1e-8 {
				t.Fatalf("q=%g (%g,%g): α=(%.12g,%.12g), integral (%.12g,%.12g)", q, x, y, ax, ay, wx, wy)
			}
		}
	}
}

func TestSIEHessianAndPoisson(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ms := []Mass{SIE{ThetaE: 1.2, Q: 0.45, Phi: -0.6, CenterX: 0.3, CenterY: 0.1},
		SIS{ThetaE: 0.8, CenterX: -0.1}, Shear{Gamma1: 0.05, Gamma2: -0.03},
		Composite{SIE{ThetaE: 1, Q: 0.7, Phi: 1.1}, Shear{Gamma1: 0.02, Gamma2: 0.04}}}
	for _, m := range ms {
		h := m.(Hessianer)
		for i := 0; i < 100; i++ {
			x, y := 4*rng.Float64()-2, 4*rng.Float64()-2
			if m.Convergence(x, y) > 2 {
				continue // too close to a centre for 1e-5 central differences
			}
			axx, axy, ayx, ayy := fdJacobian(m, x, y, 1e-5)
			fxx, fxy, fyy := h.Hessian(x, y)
			tol := 1e-7
			if math.Abs(axx-fxx) > tol || math.Abs(axy-fxy) > tol || math.Abs(ayx-fxy) > tol || math.Abs(ayy-fyy) > tol {
				t.Fatalf("%T Hessian at (%g,%g): got (%g,%g,%g), FD (%g,%g,%g,%g)", m, x, y, fxx, fxy, fyy, axx, axy, ayx, ayy)
			}
			// Poisson: ∇·α = 2κ.
			if d := math.Abs(axx + ayy - 2*m.Convergence(x, y)); d > tol {
				t.Fatalf("%T: ∇·α − 2κ = %g at (%g,%g)", m, d, x, y)
			}
		}
	}
}

func TestPotentialGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ms := []Mass{SIE{ThetaE: 1.2, Q: 0.3, Phi: 2.1, CenterX: 0.3, CenterY: 0.1},
		SIE{ThetaE: 0.9, Q: 1, Phi: 0, CenterX: -0.2},
		SIS{ThetaE: 0.8, CenterY: 0.4}, Shear{Gamma1: 0.05, Gamma2: -0.03},
		Composite{SIE{ThetaE: 1, Q: 0.7, Phi: 1.1}, Shear{Gamma1: 0.02, Gamma2: 0.04}}}
	const h = 1e-5
	for _, m := range ms {
		p := m.(Potentialer)
		for i := 0; i < 100; i++ {
			x, y := 4*rng.Float64()-2, 4*rng.Float64()-2
			gx := (p.Potential(x+h, y) - p.Potential(x-h, y)) / (2 * h)
			gy := (p.Potential(x, y+h) - p.Potential(x, y-h)) / (2 * h)
			ax, ay := m.Deflection(x, y)
			if math.Abs(gx-ax) > 1e-8 || math.Abs(gy-ay) > 1e-8 {
				t.Fatalf("%T ∇ψ=(%g,%g) α=(%g,%g) at (%g,%g)", m, gx, gy, ax, ay, x, y)
			}
		}
	}
}

func TestEllipticityRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 1000; i++ {
		q := 0.05 + 0.95*rng.Float64()
		phi := math.Pi*rng.Float64() - math.Pi/2 + 1e-9
		e1, e2 := EllipticityFromQPhi(q, phi)
		q2, phi2 := QPhiFromEllipticity(e1, e2)
		if math.Abs(q2-q) > 1e-14 || math.Abs(phi2-phi) > 1e-12 {
			t.Fatalf("q,φ=%g,%g → e=%g,%g → %g,%g", q, phi, e1, e2, q2, phi2)
		}
	}
	// Hand value: q = 1/3, φ = π/8 → |e| = 1/2, e1 = e2 = ½ cos(π/4).
	e1, e2 := EllipticityFromQPhi(1.0/3, math.Pi/8)
	if w := 0.5 * math.Sqrt(0.5); math.Abs(e1-w) > 1e-15 || math.Abs(e2-w) > 1e-15 {
		t.Fatalf("e = (%g,%g), want (%g,%g)", e1, e2, w, w)
	}
}

func TestSIEContinuityNearQ1(t *testing.T) {
	// The series branch and the closed form agree on both sides of the switch.
	for _, z := range []float64{2e-4, 5e-4, 9.99e-4, 1.001e-3, 2e-3, 5e-3} {
		for _, u := range []float64{0.3, -1, 1.7} {
			qp := z / math.Abs(u)
			zz, z2 := qp*u, qp*u*qp*u
			sa := u * (1 - z2*(1.0/3-z2*(1.0/5-z2/7)))
			sh := u * (1 + z2*(1.0/3+z2*(1.0/5+z2/7)))
			ca, ch := math.Atan(zz)/qp, math.Atanh(zz)/qp
			if relErr(sa, ca) > 1e-15 || relErr(sh, ch) > 1e-15 {
				t.Fatalf("z=%g: series (%g,%g) vs closed (%g,%g)", z, sa, sh, ca, ch)
			}
			if a, h := atanOver(qp, u), atanhOver(qp, u); relErr(a, ca) > 1e-15 || relErr(h, ch) > 1e-15 {
				t.Fatalf("z=%g: atanOver/atanhOver (%g,%g) vs closed (%g,%g)", z, a, h, ca, ch)
			}
		}
	}
	// α(q) → α_SIS linearly in 1−q, with no jump: (α(q) − α(1))/(1−q)
	// converges as q → 1 through the switch (1−q ≈ 5e-7 here).
	x, y := 0.7, -0.4
	sis := SIE{ThetaE: 1, Q: 1, Phi: 0.3}
	a1x, a1y := sis.Deflection(x, y)
	var prev float64
	for k := 2; k <= 9; k++ {
		eps := math.Pow(10, -float64(k))
		m := sis
		m.Q = 1 - eps
		ax, ay := m.Deflection(x, y)
		slope := math.Hypot(ax-a1x, ay-a1y) / eps
		t.Logf("1−q=%g slope %.12g", eps, slope)
		if k > 2 && relErr(slope, prev) > 100*eps+1e-5 {
			t.Fatalf("1−q=%g: slope %g vs previous %g", eps, slope, prev)
		}
		prev = slope
	}
	if math.IsNaN(prev) || prev == 0 {
		t.Fatalf("slope %g", prev)
	}
}

func TestLenstronomyConvention(t *testing.T) {
	// q = ½, θ_E = 1, φ = 0: b = θ_E√q, q' = √3/2, so
	// αx(1,0) = (b/q') atan(q'/q) = √(2/3)·π/3 and αy(0,1) = √(2/3)·ln(2+√3).
	m := SIE{ThetaE: 1, Q: 0.5}
	ax, ay := m.Deflection(1, 0)
	if w := math.Sqrt(2.0/3) * math.Pi / 3; math.Abs(ax-w) > 1e-15 || ay != 0 {
		t.Fatalf("α(1,0) = (%.17g,%g), want (%.17g,0)", ax, ay, w)
	}
	ax, ay = m.Deflection(0, 1)
	if w := math.Sqrt(2.0/3) * math.Log(2+math.Sqrt(3)); math.Abs(ay-w) > 1e-15 || ax != 0 {
		t.Fatalf("α(0,1) = (%g,%.17g), want (0,%.17g)", ax, ay, w)
	}
	// κ on the major axis at x = 1: θ_E/(2√q).
	if k, w := m.Convergence(1, 0), 1/(2*math.Sqrt(0.5)); math.Abs(k-w) > 1e-15 {
		t.Fatalf("κ(1,0) = %g, want %g", k, w)
	}
	// φ = π/2 equals the unrotated lens with x and y swapped.
	r := SIE{ThetaE: 1, Q: 0.5, Phi: math.Pi / 2}
	rng := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 50; i++ {
		x, y := 4*rng.Float64()-2, 4*rng.Float64()-2
		rx, ry := r.Deflection(x, y)
		ux, uy := m.Deflection(y, x)
		if math.Abs(rx-uy) > 1e-14 || math.Abs(ry-ux) > 1e-14 {
			t.Fatalf("rotated (%g,%g) vs swapped (%g,%g)", rx, ry, uy, ux)
		}
		if relErr(r.Convergence(x, y), m.Convergence(y, x)) > 1e-14 {
			t.Fatal("rotated convergence differs")
		}
	}
	// External shear hand value.
	sx, sy := Shear{Gamma1: 0.03, Gamma2: -0.02}.Deflection(2, 1)
	if math.Abs(sx-(0.06-0.02)) > 1e-16 || math.Abs(sy-(-0.04-0.03)) > 1e-16 {
		t.Fatalf("shear α = (%g,%g)", sx, sy)
	}
}
