package lens

import "math"

// Mass is a lens mass distribution: its reduced deflection α(θ) and its
// convergence κ(θ), both in arcsec units (α in arcsec, κ dimensionless).
type Mass interface {
	// Deflection returns α = (αx, αy) at the image-plane point (x, y).
	Deflection(x, y float64) (ax, ay float64)
	// Convergence returns κ at (x, y).
	Convergence(x, y float64) float64
}

// Potentialer is implemented by mass models with a closed-form lensing
// potential ψ, α = ∇ψ.
type Potentialer interface {
	Potential(x, y float64) float64
}

// Hessianer is implemented by mass models with closed-form second
// derivatives of ψ: fxx = ∂αx/∂x, fxy = ∂αx/∂y = ∂αy/∂x, fyy = ∂αy/∂y.
type Hessianer interface {
	Hessian(x, y float64) (fxx, fxy, fyy float64)
}

// Composite is the sum of several mass components.
type Composite []Mass

// Deflection returns the sum of the components' deflections.
func (c Composite) Deflection(x, y float64) (ax, ay float64) {
	for _, m := range c {
		dx, dy := m.Deflection(x, y)
		ax += dx
		ay += dy
	}
	return ax, ay
}

// Convergence returns the sum of the components' convergences.
func (c Composite) Convergence(x, y float64) float64 {
	var k float64
	for _, m := range c {
		k += m.Convergence(x, y)
	}
	return k
}

// Potential returns the sum of the components' potentials. It returns NaN
// if a component has no closed-form potential.
func (c Composite) Potential(x, y float64) float64 {
	var p float64
	for _, m := range c {
		pm, ok := m.(Potentialer)
		if !ok {
			return math.NaN()
		}
		p += pm.Potential(x, y)
	}
	return p
}

// Hessian returns the sum of the components' Hessians. It returns NaNs if a
// component has no closed-form Hessian.
func (c Composite) Hessian(x, y float64) (fxx, fxy, fyy float64) {
	for _, m := range c {
		hm, ok := m.(Hessianer)
		if !ok {
			n := math.NaN()
			return n, n, n
		}
		a, b, d := hm.Hessian(x, y)
		fxx += a
		fxy += b
		fyy += d
	}
	return fxx, fxy, fyy
}

// EllipticityFromQPhi converts an axis ratio q and major-axis angle φ to
// e1 = (1−q)/(1+q)·cos 2φ, e2 = (1−q)/(1+q)·sin 2φ.
func EllipticityFromQPhi(q, phi float64) (e1, e2 float64) {
	e := (1 - q) / (1 + q)
	s, c := math.Sincos(2 * phi)
	return e * c, e * s
}

// QPhiFromEllipticity inverts EllipticityFromQPhi: φ = ½ atan2(e2, e1) in
// (−π/2, π/2], q = (1−|e|)/(1+|e|).
func QPhiFromEllipticity(e1, e2 float64) (q, phi float64) {
	e := math.Hypot(e1, e2)
	return (1 - e) / (1 + e), 0.5 * math.Atan2(e2, e1)
}

// SIE is the singular isothermal ellipsoid with lenstronomy's normalisation
//
//	κ(x', y') = θ_E / (2 sqrt(q x'² + y'²/q)),
//
// where (x', y') are coordinates relative to (CenterX, CenterY) rotated by Phi
// so that x' lies along the major axis. ThetaE is the product-average Einstein
// radius; Q in (0, 1] is the minor/major axis ratio.
type SIE struct {
	ThetaE           float64
	Q                float64
	Phi              float64
	CenterX, CenterY float64
}

// seriesThreshold is the argument |z| below which atan(z)/z and atanh(z)/z
// are evaluated by their Taylor series (error < z⁸/9 < 1e-25).
const seriesThreshold = 1e-3

// atanOver returns atan(qp·u)/qp, finite and continuous as qp → 0.
func atanOver(qp, u float64) float64 {
	z := qp * u
	if math.Abs(z) < seriesThreshold {
		z2 := z * z
		return u * (1 - z2*(1.0/3-z2*(1.0/5-z2/7)))
	}
	return math.Atan(z) / qp
}

// atanhOver returns atanh(qp·u)/qp, finite and continuous as qp → 0.
func atanhOver(qp, u float64) float64 {
	z := qp * u
	if math.Abs(z) < seriesThreshold {
		z2 := z * z
		return u * (1 + z2*(1.0/3+z2*(1.0/5+z2/7)))
	}
	return math.Atanh(z) / qp
}

// toLocal rotates (x−cx, y−cy) into the frame of the major axis.
func toLocal(x, y, cx, cy, phi float64) (xl, yl, s, c float64) {
	s, c = math.Sincos(phi)
	dx, dy := x-cx, y-cy
	return c*dx + s*dy, -s*dx + c*dy, s, c
}

// Deflection returns the Kormann et al. (1994) closed form
//
//	α'x = (b/q') atan(q' x'/ψ),  α'y = (b/q') atanh(q' y'/ψ),
//
// with b = θ_E sqrt(q), q' = sqrt(1−q²), ψ = sqrt(q² x'² + y'²), rotated
// back by Phi. At the centre it returns 0.
func (m SIE) Deflection(x, y float64) (ax, ay float64) {
	xl, yl, s, c := toLocal(x, y, m.CenterX, m.CenterY, m.Phi)
	q := m.Q
	psi := math.Sqrt(q*q*xl*xl + yl*yl)
	if psi == 0 {
		return 0, 0
	}
	b := m.ThetaE * math.Sqrt(q)
	qp := math.Sqrt((1 - q) * (1 + q))
	axl := b * atanOver(qp, xl/psi)
	ayl := b * atanhOver(qp, yl/psi)
	return c*axl - s*ayl, s*axl + c*ayl
}

// Convergence returns κ = θ_E / (2 sqrt(q x'² + y'²/q)) (+Inf at the centre).
func (m SIE) Convergence(x, y float64) float64 {
	xl, yl, _, _ := toLocal(x, y, m.CenterX, m.CenterY, m.Phi)
	return m.ThetaE / (2 * math.Sqrt(m.Q*xl*xl+yl*yl/m.Q))
}

// Potential returns ψ = x'α'x + y'α'y (Euler's theorem: ψ is homogeneous of
// degree one about the centre).
func (m SIE) Potential(x, y float64) float64 {
	ax, ay := m.Deflection(x, y)
	return (x-m.CenterX)*ax + (y-m.CenterY)*ay
}

// Hessian returns the second derivatives of ψ. In the major-axis frame
// ∂²ψ = b/(ψ r²) · [[y'², −x'y'], [−x'y', x'²]] with r² = x'² + y'²; the
// result is rotated back by Phi. At the centre it returns NaNs.
func (m SIE) Hessian(x, y float64) (fxx, fxy, fyy float64) {
	xl, yl, s, c := toLocal(x, y, m.CenterX, m.CenterY, m.Phi)
	q := m.Q
	psi := math.Sqrt(q*q*xl*xl + yl*yl)
	r2 := xl*xl + yl*yl
	if r2 == 0 {
		n := math.NaN()
		return n, n, n
	}
	f := m.ThetaE * math.Sqrt(q) / (psi * r2)
	hxx, hxy, hyy := f*yl*yl, -f*xl*yl, f*xl*xl
	// H = R H' Rᵀ with R = [[c, −s], [s, c]].
	fxx = c*c*hxx - 2*s*c*hxy + s*s*hyy
	fyy = s*s*hxx + 2*s*c*hxy + c*c*hyy
	fxy = s*c*(hxx-hyy) + (c*c-s*s)*hxy
	return fxx, fxy, fyy
}

// SIS is the singular isothermal sphere κ = θ_E/(2r), α = θ_E r̂.
type SIS struct {
	ThetaE           float64
	CenterX, CenterY float64
}

// Deflection returns θ_E (x, y)/r about the centre (0 at the centre).
func (m SIS) Deflection(x, y float64) (ax, ay float64) {
	dx, dy := x-m.CenterX, y-m.CenterY
	r := math.Hypot(dx, dy)
	if r == 0 {
		return 0, 0
	}
	return m.ThetaE * dx / r, m.ThetaE * dy / r
}

// Convergence returns θ_E/(2r).
func (m SIS) Convergence(x, y float64) float64 {
	return m.ThetaE / (2 * math.Hypot(x-m.CenterX, y-m.CenterY))
}

// Potential returns ψ = θ_E r.
func (m SIS) Potential(x, y float64) float64 {
	return m.ThetaE * math.Hypot(x-m.CenterX, y-m.CenterY)
}

// Hessian returns θ_E/r³ · (y², −xy, x²).
func (m SIS) Hessian(x, y float64) (fxx, fxy, fyy float64) {
	dx, dy := x-m.CenterX, y-m.CenterY
	r2 := dx*dx + dy*dy
	if r2 == 0 {
		n := math.NaN()
		return n, n, n
	}
	f := m.ThetaE / (r2 * math.Sqrt(r2))
	return f * dy * dy, -f * dx * dy, f * dx * dx
}

// Shear is an external shear about the origin:
// α = (γ1 x + γ2 y, γ2 x − γ1 y), ψ = ½γ1(x² − y²) + γ2 x y, κ = 0.
type Shear struct {
	Gamma1, Gamma2 float64
}

// Deflection returns (γ1 x + γ2 y, γ2 x − γ1 y).
func (m Shear) Deflection(x, y float64) (ax, ay float64) {
	return m.Gamma1*x + m.Gamma2*y, m.Gamma2*x - m.Gamma1*y
}

// Convergence returns 0.
func (m Shear) Convergence(x, y float64) float64 { return 0 }

// Potential returns ½γ1(x² − y²) + γ2 x y.
func (m Shear) Potential(x, y float64) float64 {
	return 0.5*m.Gamma1*(x*x-y*y) + m.Gamma2*x*y
}

// Hessian returns (γ1, γ2, −γ1).
func (m Shear) Hessian(x, y float64) (fxx, fxy, fyy float64) {
	return m.Gamma1, m.Gamma2, -m.Gamma1
}
