package lens

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// NumParams is the length of the SIE + external shear parameter vector.
const NumParams = 7

// ParamNames are the names of the parameter vector's entries, in order:
// the SIE's θ_E, e1, e2, center_x, center_y and the shear's γ1, γ2, with the
// lens-file conventions (arcsec, e = (1−q)/(1+q)(cos 2φ, sin 2φ)).
var ParamNames = [NumParams]string{"theta_e", "e1", "e2", "center_x", "center_y", "gamma1", "gamma2"}

// Indices of the parameter vector.
const (
	PThetaE = iota
	PE1
	PE2
	PCenterX
	PCenterY
	PGamma1
	PGamma2
)

// Params is an SIE + external shear lens as a vector (order of ParamNames).
type Params [NumParams]float64

// ParamIndex returns the index of a parameter name.
func ParamIndex(name string) (int, bool) {
	i := slices.Index(ParamNames[:], name)
	return i, i >= 0
}

// ParamsFromModel reads the parameter vector of a model made of one SIE (or
// SIS, read as e1 = e2 = 0) and at most one SHEAR. Source light is ignored.
func ParamsFromModel(m *Model) (Params, error) {
	var p Params
	var mass, shear int
	for i, c := range m.Lens {
		switch v := c.(type) {
		case SIE:
			p[PThetaE], p[PCenterX], p[PCenterY] = v.ThetaE, v.CenterX, v.CenterY
			p[PE1], p[PE2] = EllipticityFromQPhi(v.Q, v.Phi)
			mass++
		case SIS:
			p[PThetaE], p[PCenterX], p[PCenterY] = v.ThetaE, v.CenterX, v.CenterY
			mass++
		case Shear:
			p[PGamma1], p[PGamma2] = v.Gamma1, v.Gamma2
			shear++
		default:
			return p, fmt.Errorf("components[%d]: %T is not part of the SIE + shear parameter vector", i, c)
		}
	}
	if mass != 1 || shear > 1 {
		return p, fmt.Errorf("the SIE + shear parameter vector needs exactly one SIE (or SIS) and at most one SHEAR component, got %d and %d", mass, shear)
	}
	return p, nil
}

// SIE returns the SIE of the vector (q, φ from e1, e2).
func (p Params) SIE() SIE {
	q, phi := QPhiFromEllipticity(p[PE1], p[PE2])
	return SIE{ThetaE: p[PThetaE], Q: q, Phi: phi, CenterX: p[PCenterX], CenterY: p[PCenterY]}
}

// Shear returns the external shear of the vector.
func (p Params) Shear() Shear { return Shear{Gamma1: p[PGamma1], Gamma2: p[PGamma2]} }

// Mass returns the SIE + shear mass model.
func (p Params) Mass() Composite { return Composite{p.SIE(), p.Shear()} }

// Model returns the vector as a lens model (SIE and SHEAR components).
func (p Params) Model() *Model { return &Model{Lens: []Mass{p.SIE(), p.Shear()}} }

// ParamPrior is the prior of one parameter: fixed at its initial value, or
// free with uniform bounds [Min, Max] (±Inf for none) times, when Sigma > 0,
// a Gaussian N(Mean, Sigma²).
type ParamPrior struct {
	Fixed       bool
	Min, Max    float64
	Mean, Sigma float64
}

// Priors is the prior of the whole vector: one ParamPrior per entry plus
// the joint bounds |e| = sqrt(e1² + e2²) < MaxEllipticity and
// |γ| = sqrt(γ1² + γ2²) < MaxShear (0 for none).
type Priors struct {
	P              [NumParams]ParamPrior
	MaxEllipticity float64
	MaxShear       float64
}

// DefaultPriors returns every parameter free with uniform priors a user of
// an image of half-width fieldHalf arcsec would accept: 0 < θ_E ≤ fieldHalf,
// |e1|, |e2|, |e| < 0.6, the centre inside the field, |γ1|, |γ2|, |γ| < 0.3.
func DefaultPriors(fieldHalf float64) Priors {
	var pr Priors
	pr.P[PThetaE] = ParamPrior{Min: 0, Max: fieldHalf}
	pr.P[PE1] = ParamPrior{Min: -0.6, Max: 0.6}
	pr.P[PE2] = ParamPrior{Min: -0.6, Max: 0.6}
	pr.P[PCenterX] = ParamPrior{Min: -fieldHalf, Max: fieldHalf}
	pr.P[PCenterY] = ParamPrior{Min: -fieldHalf, Max: fieldHalf}
	pr.P[PGamma1] = ParamPrior{Min: -0.3, Max: 0.3}
	pr.P[PGamma2] = ParamPrior{Min: -0.3, Max: 0.3}
	pr.MaxEllipticity, pr.MaxShear = 0.6, 0.3
	return pr
}

// Free returns the indices of the free parameters.
func (pr *Priors) Free() []int {
	var f []int
	for i, q := range pr.P {
		if !q.Fixed {
			f = append(f, i)
		}
	}
	return f
}

// Inside reports whether p lies in the support of the prior: strictly
// inside (Min, Max) for θ_E's lower bound 0 and the joint bounds, inside
// [Min, Max] otherwise.
func (pr *Priors) Inside(p Params) bool { return pr.Check(p) == nil }

// Check returns an error naming the first parameter outside the support of
// the prior (or not finite), nil if p is inside.
func (pr *Priors) Check(p Params) error {
	for i, v := range p {
		q := pr.P[i]
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return fmt.Errorf("%s = %g is not finite", ParamNames[i], v)
		case v < q.Min || v > q.Max:
			return fmt.Errorf("%s = %g is outside its prior bounds [%g, %g]", ParamNames[i], v, q.Min, q.Max)
		case i == PThetaE && !(v > 0):
			return fmt.Errorf("theta_e = %g must be > 0", v)
		}
	}
	if e := math.Hypot(p[PE1], p[PE2]); pr.MaxEllipticity > 0 && !(e < pr.MaxEllipticity) {
		return fmt.Errorf("ellipticity |e| = %g must be < %g", e, pr.MaxEllipticity)
	}
	if e := math.Hypot(p[PE1], p[PE2]); !(e < 1) {
		return fmt.Errorf("ellipticity |e| = %g must be < 1", e)
	}
	if g := math.Hypot(p[PGamma1], p[PGamma2]); pr.MaxShear > 0 && !(g < pr.MaxShear) {
		return fmt.Errorf("shear |γ| = %g must be < %g", g, pr.MaxShear)
	}
	return nil
}

// LogPrior returns the log prior density of p up to a constant: −Inf
// outside the support, else −½ Σ ((p_i − Mean_i)/Sigma_i)² over the
// Gaussian factors of the free parameters.
func (pr *Priors) LogPrior(p Params) float64 {
	if pr.Check(p) != nil {
		return math.Inf(-1)
	}
	var s float64
	for i, q := range pr.P {
		if !q.Fixed && q.Sigma > 0 {
			z := (p[i] - q.Mean) / q.Sigma
			s -= 0.5 * z * z
		}
	}
	return s
}

// PriorSpec is a partial prior specification, as written in a lens file's
// "priors" block or given on the command line; Apply overlays it on a
// Priors (for example DefaultPriors). Entries are keyed by parameter name;
// the pseudo-parameters "e" and "gamma" take only "max" (the joint bounds
// on |e| and |γ|).
//
//	"priors": {"theta_e": {"min": 0.5, "max": 2},
//	           "center_x": {"mean": 0, "sigma": 0.05},
//	           "gamma1": {"fixed": true}, "gamma2": {"fixed": true},
//	           "e": {"max": 0.5}}
type PriorSpec map[string]PriorEntry

// PriorEntry is one entry of a PriorSpec; nil fields are left unchanged.
type PriorEntry struct {
	Fixed *bool    `json:"fixed,omitempty"`
	Min   *float64 `json:"min,omitempty"`
	Max   *float64 `json:"max,omitempty"`
	Mean  *float64 `json:"mean,omitempty"`
	Sigma *float64 `json:"sigma,omitempty"`
}

// validate checks one entry; name labels errors.
func (e PriorEntry) validate(name string) error {
	for _, f := range []struct {
		n string
		v *float64
	}{{"min", e.Min}, {"max", e.Max}, {"mean", e.Mean}, {"sigma", e.Sigma}} {
		if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return fmt.Errorf("%s: %s must be finite, got %g", name, f.n, *f.v)
		}
	}
	if e.Min != nil && e.Max != nil && !(*e.Min < *e.Max) {
		return fmt.Errorf("%s: min %g must be < max %g", name, *e.Min, *e.Max)
	}
	if e.Sigma != nil && !(*e.Sigma > 0) {
		return fmt.Errorf("%s: sigma must be > 0, got %g", name, *e.Sigma)
	}
	if (e.Mean == nil) != (e.Sigma == nil) {
		return fmt.Errorf("%s: a Gaussian prior needs both mean and sigma", name)
	}
	return nil
}

// Validate checks names and values of the specification.
func (s PriorSpec) Validate() error {
	for _, name := range s.names() {
		e := s[name]
		if name == "e" || name == "gamma" {
			if e.Fixed != nil || e.Min != nil || e.Mean != nil || e.Sigma != nil || e.Max == nil {
				return fmt.Errorf("%s: the joint bound takes only max", name)
			}
			if !(*e.Max > 0) || (name == "e" && *e.Max > 1) || math.IsInf(*e.Max, 0) {
				return fmt.Errorf("%s: max must be in (0, 1] for e and > 0 for gamma, got %g", name, *e.Max)
			}
			continue
		}
		if _, ok := ParamIndex(name); !ok {
			return fmt.Errorf("unknown parameter %q (want %s, e or gamma)", name, strings.Join(ParamNames[:], ", "))
		}
		if err := e.validate(name); err != nil {
			return err
		}
	}
	return nil
}

// names returns the keys in a fixed order (parameter order, then e, gamma,
// then unknown names sorted), so errors are deterministic.
func (s PriorSpec) names() []string {
	var out, rest []string
	for _, n := range append(ParamNames[:], "e", "gamma") {
		if _, ok := s[n]; ok {
			out = append(out, n)
		}
	}
	for n := range s {
		if _, ok := ParamIndex(n); !ok && n != "e" && n != "gamma" {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// Apply overlays the specification on pr (after Validate).
func (s PriorSpec) Apply(pr *Priors) error {
	if err := s.Validate(); err != nil {
		return err
	}
	for name, e := range s {
		switch name {
		case "e":
			pr.MaxEllipticity = *e.Max
			continue
		case "gamma":
			pr.MaxShear = *e.Max
			continue
		}
		i, _ := ParamIndex(name)
		q := &pr.P[i]
		if e.Fixed != nil {
			q.Fixed = *e.Fixed
		}
		if e.Min != nil {
			q.Min = *e.Min
		}
		if e.Max != nil {
			q.Max = *e.Max
		}
		if e.Sigma != nil {
			q.Mean, q.Sigma = *e.Mean, *e.Sigma
		}
		if !(q.Min < q.Max) {
			return fmt.Errorf("%s: bounds [%g, %g] are empty", name, q.Min, q.Max)
		}
	}
	return nil
}

// ParsePriorSpec decodes a "priors" block (unknown keys are errors).
func ParsePriorSpec(data []byte) (PriorSpec, error) {
	var raw map[string]json.RawMessage
	if err := strictDecode(data, &raw); err != nil {
		return nil, err
	}
	s := PriorSpec{}
	for name, r := range raw {
		var e PriorEntry
		if err := strictDecode(r, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s[name] = e
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// ParsePriorFlag parses the command-line form of a PriorSpec: comma-separated
// items NAME=LO:HI (uniform bounds), NAME=N(MEAN,SIGMA) (Gaussian),
// NAME=fixed, or e=MAX / gamma=MAX (joint bounds), e.g.
// "theta_e=0.5:2,center_x=N(0,0.05),gamma1=fixed,e=0.5".
func ParsePriorFlag(s string) (PriorSpec, error) {
	spec := PriorSpec{}
	if strings.TrimSpace(s) == "" {
		return spec, nil
	}
	// Split on commas outside parentheses.
	var items []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, s[start:])
	num := func(item, v string) (*float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %q is not a number", item, v)
		}
		return &f, nil
	}
	for _, item := range items {
		item = strings.TrimSpace(item)
		name, val, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want NAME=LO:HI, NAME=N(MEAN,SIGMA), NAME=fixed or e=MAX", item)
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		e := spec[name]
		var err error
		switch {
		case val == "fixed":
			t := true
			e.Fixed = &t
		case val == "free":
			f := false
			e.Fixed = &f
		case strings.HasPrefix(val, "N(") && strings.HasSuffix(val, ")"):
			a, b, ok := strings.Cut(val[2:len(val)-1], ",")
			if !ok {
				return nil, fmt.Errorf("%q: want N(MEAN,SIGMA)", item)
			}
			if e.Mean, err = num(item, a); err != nil {
				return nil, err
			}
			if e.Sigma, err = num(item, b); err != nil {
				return nil, err
			}
		case strings.Contains(val, ":"):
			a, b, _ := strings.Cut(val, ":")
			if e.Min, err = num(item, a); err != nil {
				return nil, err
			}
			if e.Max, err = num(item, b); err != nil {
				return nil, err
			}
		case name == "e" || name == "gamma":
			if e.Max, err = num(item, val); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%q: want NAME=LO:HI, NAME=N(MEAN,SIGMA), NAME=fixed or e=MAX", item)
		}
		spec[name] = e
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return spec, nil
}
