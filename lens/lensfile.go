package lens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/lenscore/lenscore/atomicfile"
)

// Model is the content of a lens file: the mass components (SIE, SIS,
// Shear values) and an optional list of source light profiles (Sersic).
type Model struct {
	Lens   []Mass
	Source []Light
	Priors PriorSpec // the optional "priors" block (see PriorSpec); nil if absent
}

// Mass returns the sum of the mass components.
func (m *Model) Mass() Composite { return Composite(m.Lens) }

// SourceLight returns the summed source light, or nil if there is none.
func (m *Model) SourceLight() Light {
	if len(m.Source) == 0 {
		return nil
	}
	return Lights(m.Source)
}

// ParseFile reads a JSON lens file; errors name the file and the field.
func ParseFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lens: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse decodes a JSON lens model from r; name labels errors (the file name).
//
//	{"components": [{"type": "SIE", "theta_e": 1.2, "q": 0.7, "phi": 0.3,
//	                 "center_x": 0.1, "center_y": -0.05},
//	                {"type": "SHEAR", "gamma1": 0.03, "gamma2": -0.02}],
//	 "source_light": [{"type": "SERSIC_ELLIPSE", "amp": 1, "R_sersic": 0.3,
//	                   "n_sersic": 1.5, "q": 0.8, "phi": 0.4,
//	                   "center_x": 0, "center_y": 0}]}
//
// Component types: SIE (theta_e, q and phi or e1 and e2, center_x, center_y),
// SIS (theta_e, center_x, center_y), SHEAR (gamma1, gamma2). Light types:
// SERSIC_ELLIPSE (amp, R_sersic, n_sersic, q and phi or e1 and e2, center_x,
// center_y) and SERSIC (amp, R_sersic, n_sersic, center_x, center_y). All
// listed fields are required; unknown keys, non-finite and unphysical values
// are errors. An optional "priors" block holds the priors of the SIE + shear
// parameter vector (PriorSpec) used when the lens is fitted.
func Parse(r io.Reader, name string) (*Model, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var top struct {
		Components  *[]json.RawMessage `json:"components"`
		SourceLight []json.RawMessage  `json:"source_light"`
		Priors      json.RawMessage    `json:"priors"`
	}
	if err := strictDecode(data, &top); err != nil {
		return nil, fmt.Errorf("%s: %s", name, err)
	}
	if top.Components == nil {
		return nil, fmt.Errorf("%s: components is required", name)
	}
	if len(*top.Components) == 0 {
		return nil, fmt.Errorf("%s: components must not be empty", name)
	}
	m := &Model{}
	for i, raw := range *top.Components {
		c, err := parseComponent(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: components[%d]%s", name, i, err)
		}
		m.Lens = append(m.Lens, c)
	}
	for i, raw := range top.SourceLight {
		l, err := parseLight(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: source_light[%d]%s", name, i, err)
		}
		m.Source = append(m.Source, l)
	}
	if len(top.Priors) > 0 && string(top.Priors) != "null" {
		if m.Priors, err = ParsePriorSpec(top.Priors); err != nil {
			return nil, fmt.Errorf("%s: priors: %s", name, err)
		}
	}
	return m, nil
}

// strictDecode decodes one JSON value with unknown fields disallowed.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			if strings.HasPrefix(te.Value, "number") {
				return fmt.Errorf("%s: %s is not a finite float64", te.Field, te.Value)
			}
			return fmt.Errorf("%s: cannot use %s as %v", te.Field, te.Value, te.Type)
		}
		if errors.As(err, &te) {
			return fmt.Errorf("expected a JSON object, got %s", te.Value)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg := fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
			if strings.Contains(msg, "'N'") || strings.Contains(msg, "'I'") {
				msg += " (NaN and Inf are not JSON numbers)"
			}
			return errors.New(msg)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errors.New("invalid JSON: unexpected end of input")
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// fieldSet checks required/finite fields of one entry.
type fieldSet struct{ err error }

// get returns *p, recording an error if p is nil (missing) or not finite.
func (f *fieldSet) get(name string, p *float64) float64 {
	if f.err != nil {
		return 0
	}
	if p == nil {
		f.err = fmt.Errorf("%s is required", name)
		return 0
	}
	if math.IsNaN(*p) || math.IsInf(*p, 0) {
		f.err = fmt.Errorf("%s must be finite, got %g", name, *p)
		return 0
	}
	return *p
}

// positive is get plus a check that the value is > 0.
func (f *fieldSet) positive(name string, p *float64) float64 {
	v := f.get(name, p)
	if f.err == nil && !(v > 0) {
		f.err = fmt.Errorf("%s must be > 0, got %g", name, v)
	}
	return v
}

// sersicIndex reads n_sersic, which must keep b_n = 1.9992 n − 0.3271
// positive (n ≥ MinSersicIndex); below that the profile would grow outwards.
func (f *fieldSet) sersicIndex(p *float64) float64 {
	v := f.get("n_sersic", p)
	if f.err == nil && !(v >= MinSersicIndex && v <= 20) {
		f.err = fmt.Errorf("n_sersic must be in [%g, 20] (b_n = 1.9992 n − 0.3271 must be positive), got %g", MinSersicIndex, v)
	}
	return v
}

// MinSersicIndex is the smallest Sérsic index accepted: b_n of the
// approximation used here is positive only for n > 0.1636.
const MinSersicIndex = 0.2

// shape reads (q, phi) or (e1, e2), exactly one of the two forms.
func (f *fieldSet) shape(q, phi, e1, e2 *float64) (float64, float64) {
	if f.err != nil {
		return 0, 0
	}
	hasQ, hasE := q != nil || phi != nil, e1 != nil || e2 != nil
	switch {
	case hasQ && hasE:
		f.err = errors.New("give either (q, phi) or (e1, e2), not both")
	case hasQ:
		qv := f.get("q", q)
		pv := f.get("phi", phi)
		if f.err == nil && !(qv > 0 && qv <= 1) {
			f.err = fmt.Errorf("q must be in (0, 1], got %g", qv)
		}
		return qv, pv
	case hasE:
		a := f.get("e1", e1)
		b := f.get("e2", e2)
		if f.err != nil {
			return 0, 0
		}
		if e := math.Hypot(a, b); !(e < 1) {
			f.err = fmt.Errorf("ellipticity |e| = sqrt(e1²+e2²) must be < 1, got %g", e)
			return 0, 0
		}
		return QPhiFromEllipticity(a, b)
	default:
		f.err = errors.New("q and phi (or e1 and e2) are required")
	}
	return 0, 0
}

type typeOnly struct {
	Type *string `json:"type"`
}

func entryType(raw json.RawMessage) (string, error) {
	var t typeOnly
	if err := json.Unmarshal(raw, &t); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "type" {
			return "", fmt.Errorf(": type must be a string, got %s", te.Value)
		}
		if errors.As(err, &te) {
			return "", fmt.Errorf(": expected a JSON object, got %s", te.Value)
		}
		return "", fmt.Errorf(": %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if t.Type == nil {
		return "", errors.New(": type is required")
	}
	return *t.Type, nil
}

type sieJSON struct {
	Type    string   `json:"type"`
	ThetaE  *float64 `json:"theta_e"`
	Q       *float64 `json:"q,omitempty"`
	Phi     *float64 `json:"phi,omitempty"`
	E1      *float64 `json:"e1,omitempty"`
	E2      *float64 `json:"e2,omitempty"`
	CenterX *float64 `json:"center_x"`
	CenterY *float64 `json:"center_y"`
}

type sisJSON struct {
	Type    string   `json:"type"`
	ThetaE  *float64 `json:"theta_e"`
	CenterX *float64 `json:"center_x"`
	CenterY *float64 `json:"center_y"`
}

type shearJSON struct {
	Type   string   `json:"type"`
	Gamma1 *float64 `json:"gamma1"`
	Gamma2 *float64 `json:"gamma2"`
}

type sersicJSON struct {
	Type    string   `json:"type"`
	Amp     *float64 `json:"amp"`
	RSersic *float64 `json:"R_sersic"`
	NSersic *float64 `json:"n_sersic"`
	Q       *float64 `json:"q,omitempty"`
	Phi     *float64 `json:"phi,omitempty"`
	E1      *float64 `json:"e1,omitempty"`
	E2      *float64 `json:"e2,omitempty"`
	CenterX *float64 `json:"center_x"`
	CenterY *float64 `json:"center_y"`
}

type sersicRoundJSON struct {
	Type    string   `json:"type"`
	Amp     *float64 `json:"amp"`
	RSersic *float64 `json:"R_sersic"`
	NSersic *float64 `json:"n_sersic"`
	CenterX *float64 `json:"center_x"`
	CenterY *float64 `json:"center_y"`
}

func parseComponent(raw json.RawMessage) (Mass, error) {
	typ, err := entryType(raw)
	if err != nil {
		return nil, err
	}
	wrap := func(err error) error { return fmt.Errorf(" (%s): %w", typ, err) }
	var f fieldSet
	switch typ {
	case "SIE":
		var j sieJSON
		if err := strictDecode(raw, &j); err != nil {
			return nil, wrap(err)
		}
		m := SIE{ThetaE: f.positive("theta_e", j.ThetaE)}
		m.Q, m.Phi = f.shape(j.Q, j.Phi, j.E1, j.E2)
		m.CenterX = f.get("center_x", j.CenterX)
		m.CenterY = f.get("center_y", j.CenterY)
		if f.err != nil {
			return nil, wrap(f.err)
		}
		return m, nil
	case "SIS":
		var j sisJSON
		if err := strictDecode(raw, &j); err != nil {
			return nil, wrap(err)
		}
		m := SIS{ThetaE: f.positive("theta_e", j.ThetaE)}
		m.CenterX = f.get("center_x", j.CenterX)
		m.CenterY = f.get("center_y", j.CenterY)
		if f.err != nil {
			return nil, wrap(f.err)
		}
		return m, nil
	case "SHEAR":
		var j shearJSON
		if err := strictDecode(raw, &j); err != nil {
			return nil, wrap(err)
		}
		m := Shear{Gamma1: f.get("gamma1", j.Gamma1), Gamma2: f.get("gamma2", j.Gamma2)}
		if f.err != nil {
			return nil, wrap(f.err)
		}
		return m, nil
	}
	return nil, fmt.Errorf(": unknown component type %q (want SIE, SIS or SHEAR)", typ)
}

func parseLight(raw json.RawMessage) (Light, error) {
	typ, err := entryType(raw)
	if err != nil {
		return nil, err
	}
	wrap := func(err error) error { return fmt.Errorf(" (%s): %w", typ, err) }
	var f fieldSet
	switch typ {
	case "SERSIC_ELLIPSE":
		var j sersicJSON
		if err := strictDecode(raw, &j); err != nil {
			return nil, wrap(err)
		}
		s := Sersic{Amp: f.get("amp", j.Amp), RSersic: f.positive("R_sersic", j.RSersic),
			NSersic: f.sersicIndex(j.NSersic)}
		s.Q, s.Phi = f.shape(j.Q, j.Phi, j.E1, j.E2)
		s.CenterX = f.get("center_x", j.CenterX)
		s.CenterY = f.get("center_y", j.CenterY)
		if f.err != nil {
			return nil, wrap(f.err)
		}
		return s, nil
	case "SERSIC":
		var j sersicRoundJSON
		if err := strictDecode(raw, &j); err != nil {
			return nil, wrap(err)
		}
		s := Sersic{Amp: f.get("amp", j.Amp), RSersic: f.positive("R_sersic", j.RSersic),
			NSersic: f.sersicIndex(j.NSersic), Q: 1}
		s.CenterX = f.get("center_x", j.CenterX)
		s.CenterY = f.get("center_y", j.CenterY)
		if f.err != nil {
			return nil, wrap(f.err)
		}
		return s, nil
	}
	return nil, fmt.Errorf(": unknown source_light type %q (want SERSIC_ELLIPSE or SERSIC)", typ)
}

func ptr(v float64) *float64 { return &v }

// MarshalJSON encodes the model in the lens-file format (SIE and
// SERSIC_ELLIPSE in the (q, phi) form); Parse reads it back exactly.
func (m *Model) MarshalJSON() ([]byte, error) {
	var top struct {
		Components  []any     `json:"components"`
		SourceLight []any     `json:"source_light,omitempty"`
		Priors      PriorSpec `json:"priors,omitempty"`
	}
	top.Priors = m.Priors
	for i, c := range m.Lens {
		switch v := c.(type) {
		case SIE:
			top.Components = append(top.Components, sieJSON{Type: "SIE", ThetaE: ptr(v.ThetaE),
				Q: ptr(v.Q), Phi: ptr(v.Phi), CenterX: ptr(v.CenterX), CenterY: ptr(v.CenterY)})
		case SIS:
			top.Components = append(top.Components, sisJSON{Type: "SIS", ThetaE: ptr(v.ThetaE),
				CenterX: ptr(v.CenterX), CenterY: ptr(v.CenterY)})
		case Shear:
			top.Components = append(top.Components, shearJSON{Type: "SHEAR",
				Gamma1: ptr(v.Gamma1), Gamma2: ptr(v.Gamma2)})
		default:
			return nil, fmt.Errorf("lens: marshal: components[%d]: unsupported type %T", i, c)
		}
	}
	for i, l := range m.Source {
		v, ok := l.(Sersic)
		if !ok {
			return nil, fmt.Errorf("lens: marshal: source_light[%d]: unsupported type %T", i, l)
		}
		top.SourceLight = append(top.SourceLight, sersicJSON{Type: "SERSIC_ELLIPSE", Amp: ptr(v.Amp),
			RSersic: ptr(v.RSersic), NSersic: ptr(v.NSersic), Q: ptr(v.Q), Phi: ptr(v.Phi),
			CenterX: ptr(v.CenterX), CenterY: ptr(v.CenterY)})
	}
	return json.MarshalIndent(top, "", "  ")
}

// WriteFile writes the model as JSON to path atomically (temporary file in
// the same directory, then rename).
func (m *Model) WriteFile(path string) error {
	data, err := m.MarshalJSON()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("lens: %w", err)
	}
	return nil
}
