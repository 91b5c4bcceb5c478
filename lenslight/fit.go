package lenslight

import (
	"errors"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/mcmc"
)

// Options configure Fit. Zero values select the defaults.
type Options struct {
	Profiles  int     // number of Sérsic profiles, 1 or 2 (default 2)
	Super     int     // sub-pixel samples per side (default 2)
	ArcSigma  float64 // residual threshold of the arc mask, in σ (default 3)
	Passes    int     // fit–mask passes (default 2)
	MaxEval   int     // Nelder–Mead evaluations per fit (default 1200)
	CenterX   float64 // starting centre, arcsec
	CenterY   float64
	MaxRadius float64 // profiles must have R_s below this, arcsec (default: the grid's half-width)
	// Protect is the radius about the centre, arcsec, inside which pixels
	// are never masked as arcs: there the lens outshines any arc, and a
	// poorly fitted cusp must not mask itself away (default 0.25″).
	Protect float64
	// ArcFrac: a pixel is an arc only when its residual also exceeds this
	// fraction of the lens light there (default 0.3), so that a misfit of
	// the lens's own wings (a smooth excess of a few tens of per cent)
	// is refitted rather than masked.
	ArcFrac float64
	// Exclude, when set, is a user mask of the known arcs: true pixels
	// never enter the fit (e.g. an annulus about the Einstein radius).
	Exclude []bool
}

// Result is a fitted lens light.
type Result struct {
	Profiles []lens.Sersic // with their amplitudes
	Sky      float64
	Model    []float64 // PSF-convolved lens light plus sky on the grid
	Residual []float64 // y − Model
	ArcMask  []bool    // true where the last pass excluded the pixel as an arc
	Chi2Nu   float64   // over the pixels used in the last pass
	Nu       int
	Evals    int
}

// problem holds the data and work buffers of one fit.
type problem struct {
	g       lens.Grid
	y, w    []float64 // w = 1/σ², 0 where excluded
	op      *lens.Operator
	super   int
	k       int
	tmpl    [][]float64 // k PSF-convolved unit templates
	raw     []float64
	amps    []float64
	maxR    float64
	ata     []float64
	atb     []float64
	active  []bool
	profile []lens.Sersic
}

// Fit fits the lens light of image y (grid g, noise σ: one value or a map,
// keep: nil or false where excluded) through the PSF (nil: none).
func Fit(y []float64, g lens.Grid, sigma []float64, keep []bool, psf *lens.PSF, opt Options) (*Result, error) {
	if opt.Profiles == 0 {
		opt.Profiles = 2
	}
	if opt.Super == 0 {
		opt.Super = 2
	}
	if opt.ArcSigma == 0 {
		opt.ArcSigma = 3
	}
	if opt.Passes == 0 {
		opt.Passes = 2
	}
	if opt.MaxEval == 0 {
		opt.MaxEval = 1200
	}
	if opt.Protect == 0 {
		opt.Protect = 0.25
	}
	if opt.ArcFrac == 0 {
		opt.ArcFrac = 0.3
	}
	if opt.MaxRadius == 0 {
		opt.MaxRadius = float64(g.N) * g.Scale / 2
	}
	m := g.N * g.N
	switch {
	case opt.Profiles < 1 || opt.Profiles > 2:
		return nil, fmt.Errorf("lenslight: 1 or 2 profiles, got %d", opt.Profiles)
	case len(y) != m:
		return nil, fmt.Errorf("lenslight: image has %d pixels, the grid %d", len(y), m)
	case len(sigma) != 1 && len(sigma) != m:
		return nil, fmt.Errorf("lenslight: noise has %d values, want 1 or %d", len(sigma), m)
	case keep != nil && len(keep) != m:
		return nil, fmt.Errorf("lenslight: mask has %d values, want %d", len(keep), m)
	case opt.Exclude != nil && len(opt.Exclude) != m:
		return nil, fmt.Errorf("lenslight: exclusion mask has %d values, want %d", len(opt.Exclude), m)
	}
	p := &problem{g: g, y: y, w: make([]float64, m), super: opt.Super, raw: make([]float64, m), maxR: opt.MaxRadius}
	// Identity lens on the same grid: Apply = PSF convolution, the
	// operator's fast stencil.
	var err error
	cfg := lens.Config{Obs: g, Src: g, Supersample: 1, PSF: psf}
	if p.op, err = lens.NewOperator(lens.Composite{lens.Shear{}}, cfg); err != nil {
		return nil, err
	}
	base := make([]float64, m)
	used := 0
	for i := range base {
		if keep != nil && !keep[i] || opt.Exclude != nil && opt.Exclude[i] {
			continue
		}
		s := sigma[0]
		if len(sigma) == m {
			s = sigma[i]
		}
		if !(s > 0) || math.IsInf(s, 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("lenslight: pixel %d: image %g, σ %g", i, y[i], s)
		}
		base[i] = 1 / (s * s)
		used++
	}
	if used < 50 {
		return nil, errors.New("lenslight: fewer than 50 pixels to fit")
	}
	copy(p.w, base)
	x := p.start(opt)
	arc := make([]bool, m)
	res := &Result{}
	// Passes: one profile until its arc mask has settled, then the full
	// model; each later pass refits with the previous pass's arc mask.
	var plan []int
	for pass := 0; pass < opt.Passes; pass++ {
		plan = append(plan, 1)
	}
	if opt.Profiles == 2 {
		for pass := 0; pass < opt.Passes; pass++ {
			plan = append(plan, 2)
		}
	}
	for pass, k := range plan {
		if k == 2 && len(x) == 6 { // split one profile into a compact and an extended one
			x = append(x, x[2:6]...)
			x[2] -= math.Log(2)
			x[6] = math.Min(x[6]+math.Log(2), math.Log(0.8*p.maxR))
			x[7] = 1
		}
		p.setK(k)
		steps := make([]float64, len(x))
		steps[0], steps[1] = g.Scale, g.Scale
		for j := 0; j < k; j++ {
			steps[2+4*j], steps[3+4*j], steps[4+4*j], steps[5+4*j] = 0.3, 0.5, 0.05, 0.05 // ln R, n, e1, e2
		}
		// Nelder–Mead, restarted from its best point while that improves.
		best := math.Inf(-1)
		for restart := 0; restart < 2; restart++ {
			r, err := mcmc.Maximise(p.objective, x, mcmc.MaximiseOptions{Steps: steps, MaxEval: opt.MaxEval, FTol: 1e-3})
			if err != nil {
				return nil, fmt.Errorf("lenslight: %w", err)
			}
			res.Evals += r.Evals
			x = r.X
			if r.F < best+0.5 {
				break
			}
			best = r.F
		}
		_ = pass
		// Arc mask for the next pass.
		p.objective(x)
		model := p.model()
		for i := range arc {
			arc[i] = false
		}
		for i := range arc {
			r, c := i/g.N, i%g.N
			if math.Hypot(g.Coord(c)-x[0], g.Coord(r)-x[1]) < opt.Protect {
				continue
			}
			if d := y[i] - model[i]; base[i] > 0 && d*math.Sqrt(base[i]) > opt.ArcSigma && d > opt.ArcFrac*(model[i]-p.amps[p.k]) {
				for dr := -1; dr <= 1; dr++ {
					for dc := -1; dc <= 1; dc++ {
						rr, cc := r+dr, c+dc
						if rr >= 0 && rr < g.N && cc >= 0 && cc < g.N && math.Hypot(g.Coord(cc)-x[0], g.Coord(rr)-x[1]) >= opt.Protect {
							arc[rr*g.N+cc] = true
						}
					}
				}
			}
		}
		if pass < len(plan)-1 {
			for i := range p.w {
				p.w[i] = base[i]
				if arc[i] {
					p.w[i] = 0
				}
			}
		}
	}
	chi2 := -2 * p.objective(x)
	res.Model = p.model()
	res.Residual = make([]float64, m)
	for i := range y {
		res.Residual[i] = y[i] - res.Model[i]
	}
	for i := range p.w {
		if p.w[i] > 0 {
			res.Nu++
		}
	}
	res.Chi2Nu = chi2 / float64(max(1, res.Nu-len(x)-p.k-1))
	res.Profiles = append([]lens.Sersic(nil), p.profile...)
	for k := range res.Profiles {
		res.Profiles[k].Amp = p.amps[k]
	}
	res.Sky = p.amps[p.k]
	res.ArcMask = arc
	return res, nil
}

// start guesses the centre, size and shape from the brightness-weighted
// moments of the brightest pixels about the starting centre.
func (p *problem) start(opt Options) []float64 {
	g := p.g
	var sw, sxx, syy, sxy float64
	rmax := math.Min(opt.MaxRadius, float64(g.N)*g.Scale/4)
	for r := 0; r < g.N; r++ {
		for c := 0; c < g.N; c++ {
			i := r*g.N + c
			x, y := g.Coord(c)-opt.CenterX, g.Coord(r)-opt.CenterY
			if p.w[i] == 0 || p.y[i] <= 0 || math.Hypot(x, y) > rmax {
				continue
			}
			v := p.y[i]
			sw += v
			sxx += v * x * x
			syy += v * y * y
			sxy += v * x * y
		}
	}
	reff, e1, e2 := 0.5, 0.0, 0.0
	if sw > 0 {
		sxx, syy, sxy = sxx/sw, syy/sw, sxy/sw
		tr := sxx + syy
		reff = math.Min(math.Max(2*g.Scale, 0.5*math.Sqrt(tr)), 0.5*p.maxR)
		d := math.Sqrt((sxx-syy)*(sxx-syy) + 4*sxy*sxy)
		a2, b2 := (tr+d)/2, (tr-d)/2
		q := math.Sqrt(math.Max(b2, 1e-12) / a2)
		phi := 0.5 * math.Atan2(2*sxy, sxx-syy)
		e1, e2 = lens.EllipticityFromQPhi(math.Max(q, 0.3), phi)
	}
	return []float64{opt.CenterX, opt.CenterY, math.Log(reff), 4, e1, e2}
}

func (p *problem) setK(k int) {
	p.k = k
	p.tmpl = make([][]float64, k)
	for i := range p.tmpl {
		p.tmpl[i] = make([]float64, len(p.y))
	}
	p.amps = make([]float64, k+1)
	p.ata = make([]float64, (k+1)*(k+1))
	p.atb = make([]float64, k+1)
	p.active = make([]bool, k+1)
	p.profile = make([]lens.Sersic, k)
}

// objective is −χ²/2 at the shapes x, with the amplitudes solved.
func (p *problem) objective(x []float64) float64 {
	cx, cy := x[0], x[1]
	for k := 0; k < p.k; k++ {
		lr, n, e1, e2 := x[2+4*k], x[3+4*k], x[4+4*k], x[5+4*k]
		rs := math.Exp(lr)
		if !(n >= 0.5 && n <= 6) || math.Hypot(e1, e2) > 0.8 || !(rs > p.g.Scale/10 && rs < p.maxR) {
			return math.Inf(-1)
		}
		q, phi := lens.QPhiFromEllipticity(e1, e2)
		p.profile[k] = lens.Sersic{Amp: 1, RSersic: rs, NSersic: n, Q: q, Phi: phi, CenterX: cx, CenterY: cy}
		p.render(p.profile[k])
		p.op.Apply(p.tmpl[k], p.raw)
	}
	chi2 := p.solve()
	if math.IsNaN(chi2) {
		return math.Inf(-1)
	}
	return -chi2 / 2
}

// render writes the pixel averages of s into p.raw. It evaluates the
// profile of lens.Sersic with the rotation and b_n hoisted out of the loop:
// I = Amp·exp(−b_n((R/R_s)^{1/n} − 1)), R² = q x'² + y'²/q.
func (p *problem) render(s lens.Sersic) {
	g := p.g
	sn, cs := math.Sincos(s.Phi)
	bn := 1.9992*s.NSersic - 0.3271
	invN := 1 / s.NSersic
	lnR := math.Log(s.RSersic)
	bright := func(x, y float64) float64 {
		dx, dy := x-s.CenterX, y-s.CenterY
		xl, yl := cs*dx+sn*dy, -sn*dx+cs*dy
		r2 := s.Q*xl*xl + yl*yl/s.Q
		if r2 == 0 {
			return s.Amp * math.Exp(bn)
		}
		return s.Amp * math.Exp(-bn*(math.Exp((0.5*math.Log(r2)-lnR)*invN)-1))
	}
	for r := 0; r < g.N; r++ {
		for c := 0; c < g.N; c++ {
			x0, y0 := g.Coord(c), g.Coord(r)
			sup := p.super
			if math.Abs(x0-s.CenterX) < 2*g.Scale && math.Abs(y0-s.CenterY) < 2*g.Scale {
				sup = 8
			}
			var v float64
			for a := 0; a < sup; a++ {
				y := y0 + ((float64(a)+0.5)/float64(sup)-0.5)*g.Scale
				for b := 0; b < sup; b++ {
					v += bright(x0+((float64(b)+0.5)/float64(sup)-0.5)*g.Scale, y)
				}
			}
			p.raw[r*g.N+c] = v / float64(sup*sup)
		}
	}
}

// col returns template j (the last one is the constant sky).
func (p *problem) col(j, i int) float64 {
	if j == p.k {
		return 1
	}
	return p.tmpl[j][i]
}

// solve finds the amplitudes (non-negative for the profiles) minimising χ²
// and returns χ².
func (p *problem) solve() float64 {
	k1 := p.k + 1
	for j := range p.active {
		p.active[j] = true
	}
	for iter := 0; iter <= p.k; iter++ {
		clear(p.ata)
		clear(p.atb)
		for i, w := range p.w {
			if w == 0 {
				continue
			}
			for a := 0; a < k1; a++ {
				if !p.active[a] {
					continue
				}
				ca := p.col(a, i) * w
				p.atb[a] += ca * p.y[i]
				for b := 0; b <= a; b++ {
					if p.active[b] {
						p.ata[a*k1+b] += ca * p.col(b, i)
					}
				}
			}
		}
		for a := 0; a < k1; a++ {
			for b := 0; b < a; b++ {
				p.ata[b*k1+a] = p.ata[a*k1+b]
			}
			if !p.active[a] {
				p.ata[a*k1+a] = 1
			}
		}
		if !solveSmall(p.ata, p.atb, k1) {
			return math.NaN()
		}
		neg := false
		for a := 0; a < p.k; a++ {
			if p.active[a] && p.atb[a] < 0 {
				p.active[a], neg = false, true
			}
		}
		if !neg {
			break
		}
	}
	for a := 0; a < k1; a++ {
		p.amps[a] = 0
		if p.active[a] {
			p.amps[a] = p.atb[a]
		}
	}
	var chi2 float64
	for i, w := range p.w {
		if w == 0 {
			continue
		}
		m := p.amps[p.k]
		for a := 0; a < p.k; a++ {
			m += p.amps[a] * p.tmpl[a][i]
		}
		d := p.y[i] - m
		chi2 += d * d * w
	}
	return chi2
}

// model returns the model image for the last objective call.
func (p *problem) model() []float64 {
	m := make([]float64, len(p.y))
	for i := range m {
		m[i] = p.amps[p.k]
		for a := 0; a < p.k; a++ {
			m[i] += p.amps[a] * p.tmpl[a][i]
		}
	}
	return m
}

// solveSmall solves the symmetric positive-definite k×k system a x = b in
// place (b becomes x) by Cholesky; false if a is not positive definite.
func solveSmall(a, b []float64, k int) bool {
	for j := 0; j < k; j++ {
		s := a[j*k+j]
		for l := 0; l < j; l++ {
			s -= a[j*k+l] * a[j*k+l]
		}
		if !(s > 0) {
			return false
		}
		d := math.Sqrt(s)
		a[j*k+j] = d
		for i := j + 1; i < k; i++ {
			s := a[i*k+j]
			for l := 0; l < j; l++ {
				s -= a[i*k+l] * a[j*k+l]
			}
			a[i*k+j] = s / d
		}
	}
	for i := 0; i < k; i++ {
		s := b[i]
		for l := 0; l < i; l++ {
			s -= a[i*k+l] * b[l]
		}
		b[i] = s / a[i*k+i]
	}
	for i := k - 1; i >= 0; i-- {
		s := b[i]
		for l := i + 1; l < k; l++ {
			s -= a[l*k+i] * b[l]
		}
		b[i] = s / a[i*k+i]
	}
	return true
}

// Templates returns the unit-amplitude PSF-convolved images of the fitted
// profiles (for a lens fit that re-solves their amplitudes with the
// source), rendered as Fit renders them.
func Templates(profiles []lens.Sersic, g lens.Grid, psf *lens.PSF, super int) ([][]float64, error) {
	if super == 0 {
		super = 2
	}
	p := &problem{g: g, super: super, raw: make([]float64, g.N*g.N)}
	var err error
	if p.op, err = lens.NewOperator(lens.Composite{lens.Shear{}}, lens.Config{Obs: g, Src: g, Supersample: 1, PSF: psf}); err != nil {
		return nil, err
	}
	out := make([][]float64, len(profiles))
	for k, s := range profiles {
		s.Amp = 1
		p.render(s)
		out[k] = make([]float64, g.N*g.N)
		p.op.Apply(out[k], p.raw)
	}
	return out, nil
}
