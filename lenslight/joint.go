package lenslight

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/mcmc"
	"github.com/lenscore/lenscore/progress"
)

// SourceEvidence returns the log evidence of the observed image with the
// lensed source integrated out (fixed lens and source-prior amplitude) and
// the given image-plane templates as extra linear components whose
// amplitudes are integrated out too (flat priors): for example a closure
// over lensfit.Evidence.LogEvidence with one lensfit.Component per
// template. The templates' slices are reused between calls.
type SourceEvidence func(templates [][]float64) (float64, error)

// JointOptions configure RefineJoint. Zero values select the defaults.
type JointOptions struct {
	Super   int  // sub-pixel samples per side (default 2)
	MaxEval int  // Nelder–Mead evaluations per restart (default 150 per shape parameter)
	Restart int  // Nelder–Mead restarts from the best point (default 2)
	Sky     bool // add a constant sky template
	// FreeCenters gives each profile its own centre (otherwise one
	// centre is shared, as in Fit).
	FreeCenters bool
	MaxRadius   float64   // R_s below this, arcsec (default: the grid's half-width)
	Progress    io.Writer // progress lines (nil: none)
}

// JointResult is a lens light refined jointly with the source.
type JointResult struct {
	Profiles    []lens.Sersic // shapes; Amp = 1 (the amplitudes are the caller's linear solve)
	Templates   [][]float64   // PSF-convolved unit templates of Profiles (and the sky's ones last when Sky)
	LogEvidence float64
	Start       float64 // log evidence at the start
	Evals       int
}

// RefineJoint refines the shapes of the Sérsic profiles (start: their
// centre, R_s, n, q, φ; amplitudes ignored) by maximising ev, the evidence
// of the image with the lensed source and the light amplitudes integrated
// out. Unlike Fit, which keeps the arcs out of the light fit by masking, the
// source model explains the arcs here, so every pixel can constrain the
// light, including those under the ring, and light the Sérsics took from the
// arcs (or arc light they absorbed) is given back. The lens is held fixed;
// the parameters are, per profile, ln R_s, n, e1, e2 (and the centre when
// FreeCenters, otherwise one shared centre first).
func RefineJoint(start []lens.Sersic, g lens.Grid, psf *lens.PSF, ev SourceEvidence, opt JointOptions) (*JointResult, error) {
	if len(start) == 0 {
		return nil, errors.New("lenslight: joint refinement needs at least one starting profile")
	}
	if ev == nil {
		return nil, errors.New("lenslight: joint refinement needs an evidence function")
	}
	if opt.Super == 0 {
		opt.Super = 2
	}
	if opt.Restart == 0 {
		opt.Restart = 2
	}
	if opt.MaxRadius == 0 {
		opt.MaxRadius = float64(g.N) * g.Scale / 2
	}
	k := len(start)
	m := g.N * g.N
	p := &problem{g: g, super: opt.Super, raw: make([]float64, m), maxR: opt.MaxRadius}
	var err error
	if p.op, err = lens.NewOperator(lens.Composite{lens.Shear{}}, lens.Config{Obs: g, Src: g, Supersample: 1, PSF: psf}); err != nil {
		return nil, err
	}
	nt := k
	if opt.Sky {
		nt++
	}
	tmpl := make([][]float64, nt)
	for i := range tmpl {
		tmpl[i] = make([]float64, m)
	}
	if opt.Sky {
		for i := range tmpl[k] {
			tmpl[k][i] = 1
		}
	}
	// Parameter vector.
	var x, steps []float64
	if !opt.FreeCenters {
		x = append(x, start[0].CenterX, start[0].CenterY)
		steps = append(steps, g.Scale/2, g.Scale/2)
	}
	for _, s := range start {
		if !(s.RSersic > 0) || !(s.Q > 0 && s.Q <= 1) {
			return nil, fmt.Errorf("lenslight: joint refinement: starting profile %+v has no valid size or axis ratio", s)
		}
		if opt.FreeCenters {
			x = append(x, s.CenterX, s.CenterY)
			steps = append(steps, g.Scale/2, g.Scale/2)
		}
		e1, e2 := lens.EllipticityFromQPhi(s.Q, s.Phi)
		x = append(x, math.Log(s.RSersic), math.Min(math.Max(s.NSersic, 0.55), 5.9), e1, e2)
		steps = append(steps, 0.15, 0.3, 0.03, 0.03)
	}
	profiles := make([]lens.Sersic, k)
	unpack := func(x []float64) bool {
		j := 0
		var cx, cy float64
		if !opt.FreeCenters {
			cx, cy, j = x[0], x[1], 2
		}
		for i := 0; i < k; i++ {
			if opt.FreeCenters {
				cx, cy = x[j], x[j+1]
				j += 2
			}
			lr, n, e1, e2 := x[j], x[j+1], x[j+2], x[j+3]
			j += 4
			rs := math.Exp(lr)
			if !(n >= 0.5 && n <= 6) || math.Hypot(e1, e2) > 0.8 || !(rs > g.Scale/10 && rs < p.maxR) {
				return false
			}
			q, phi := lens.QPhiFromEllipticity(e1, e2)
			profiles[i] = lens.Sersic{Amp: 1, RSersic: rs, NSersic: n, Q: q, Phi: phi, CenterX: cx, CenterY: cy}
		}
		return true
	}
	var evals int
	var evErr error
	if opt.MaxEval == 0 {
		opt.MaxEval = 150 * len(x)
	}
	var bar *progress.Bar
	if opt.Progress != nil {
		bar = progress.New(opt.Progress, "lens-light evaluations", 0, opt.Restart*opt.MaxEval)
	}
	f := func(x []float64) float64 {
		if bar != nil {
			bar.Update(evals)
		}
		if !unpack(x) {
			return math.Inf(-1)
		}
		for i, s := range profiles {
			p.render(s)
			p.op.Apply(tmpl[i], p.raw)
		}
		evals++
		v, err := ev(tmpl)
		if err != nil {
			evErr = err
			return math.Inf(-1)
		}
		return v
	}
	res := &JointResult{Start: f(x)}
	if math.IsInf(res.Start, -1) {
		if evErr != nil {
			return nil, fmt.Errorf("lenslight: joint refinement at the start: %w", evErr)
		}
		return nil, errors.New("lenslight: joint refinement: the start is outside the allowed shapes")
	}
	best := res.Start
	for r := 0; r < opt.Restart; r++ {
		mr, err := mcmc.Maximise(f, x, mcmc.MaximiseOptions{Steps: steps, MaxEval: opt.MaxEval, FTol: 1e-3})
		if err != nil {
			return nil, fmt.Errorf("lenslight: joint refinement: %w", err)
		}
		gain := mr.F - best
		if mr.F > best {
			x, best = mr.X, mr.F
		}
		if gain < 0.5 {
			break
		}
	}
	f(x) // leave the templates of the best point
	if bar != nil {
		bar.Force(evals, fmt.Sprintf("log_evidence=%.1f", best))
	}
	res.LogEvidence, res.Evals = best, evals
	res.Profiles = append([]lens.Sersic(nil), profiles...)
	res.Templates = tmpl
	return res, nil
}
