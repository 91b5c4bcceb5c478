package lens

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const exampleFile = `{"components": [{"type": "SIE", "theta_e": 1.2, "q": 0.7, "phi": 0.3, "center_x": 0.1, "center_y": -0.05},
 {"type": "SHEAR", "gamma1": 0.03, "gamma2": -0.02}],
 "source_light": [{"type": "SERSIC_ELLIPSE", "amp": 1, "R_sersic": 0.3, "n_sersic": 1.5, "q": 0.8, "phi": 0.4, "center_x": 0, "center_y": 0}]}`

func TestParseFileExample(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lens.json")
	if err := os.WriteFile(path, []byte(exampleFile), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Model{
		Lens:   []Mass{SIE{ThetaE: 1.2, Q: 0.7, Phi: 0.3, CenterX: 0.1, CenterY: -0.05}, Shear{Gamma1: 0.03, Gamma2: -0.02}},
		Source: []Light{Sersic{Amp: 1, RSersic: 0.3, NSersic: 1.5, Q: 0.8, Phi: 0.4}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("parsed %+v\nwant %+v", m, want)
	}
	// The composite mass is the sum of the components.
	ax, ay := m.Mass().Deflection(0.4, 0.9)
	sx, sy := want.Lens[0].Deflection(0.4, 0.9)
	if math.Abs(ax-(sx+0.03*0.4-0.02*0.9)) > 1e-15 || math.Abs(ay-(sy-0.02*0.4-0.03*0.9)) > 1e-15 {
		t.Fatal("composite deflection is not the sum")
	}
	// Round trip through MarshalJSON / WriteFile.
	out := filepath.Join(t.TempDir(), "out.json")
	if err := m.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	m2, err := ParseFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip: %+v vs %+v", m, m2)
	}
	if m.SourceLight().Brightness(0, 0) != want.Source[0].Brightness(0, 0) {
		t.Fatal("SourceLight differs")
	}
}

func TestParseEllipticityForm(t *testing.T) {
	e1, e2 := EllipticityFromQPhi(0.6, 0.5)
	src := `{"components": [{"type": "SIE", "theta_e": 1, "e1": ` + fmtF(e1) + `, "e2": ` + fmtF(e2) +
		`, "center_x": 0, "center_y": 0}, {"type": "SIS", "theta_e": 0.2, "center_x": 1, "center_y": 2}],
		"source_light": [{"type": "SERSIC", "amp": 3, "R_sersic": 0.1, "n_sersic": 4, "center_x": 0.5, "center_y": 0}]}`
	m, err := Parse(strings.NewReader(src), "e.json")
	if err != nil {
		t.Fatal(err)
	}
	s := m.Lens[0].(SIE)
	if math.Abs(s.Q-0.6) > 1e-14 || math.Abs(s.Phi-0.5) > 1e-14 {
		t.Fatalf("q, phi = %g, %g", s.Q, s.Phi)
	}
	if m.Lens[1] != (SIS{ThetaE: 0.2, CenterX: 1, CenterY: 2}) {
		t.Fatalf("SIS %+v", m.Lens[1])
	}
	if m.Source[0] != (Sersic{Amp: 3, RSersic: 0.1, NSersic: 4, Q: 1, CenterX: 0.5}) {
		t.Fatalf("SERSIC %+v", m.Source[0])
	}
	data, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(strings.NewReader(string(data)), "rt.json")
	if err != nil || !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip: %v\n%s", err, data)
	}
}

func fmtF(v float64) string {
	b, _ := (&Model{Lens: []Mass{Shear{Gamma1: v}}}).MarshalJSON()
	s := string(b)
	i := strings.Index(s, `"gamma1": `) + len(`"gamma1": `)
	return s[i : i+strings.IndexAny(s[i:], ",\n")]
}

func TestParseErrors(t *testing.T) {
	sie := func(body string) string {
		return `{"components": [{"type": "SIE", ` + body + `}]}`
	}
	const ok = `"theta_e": 1, "q": 0.7, "phi": 0.3, "center_x": 0, "center_y": 0`
	sersic := func(body string) string {
		return `{"components": [{"type": "SHEAR", "gamma1": 0, "gamma2": 0}], "source_light": [{"type": "SERSIC_ELLIPSE", ` + body + `}]}`
	}
	const okS = `"amp": 1, "R_sersic": 0.3, "n_sersic": 1.5, "q": 0.8, "phi": 0.4, "center_x": 0, "center_y": 0`
	cases := []struct{ in, want string }{
		{sie(ok), ""},
		{sersic(okS), ""},
		{sie(strings.Replace(ok, `"theta_e": 1`, `"theta_e": -1`, 1)), "lens.json: components[0] (SIE): theta_e must be > 0, got -1"},
		{sie(strings.Replace(ok, `"theta_e": 1`, `"theta_e": 0`, 1)), "components[0] (SIE): theta_e must be > 0, got 0"},
		{sie(strings.Replace(ok, `"theta_e": 1, `, ``, 1)), "components[0] (SIE): theta_e is required"},
		{sie(strings.Replace(ok, `"theta_e": 1`, `"theta_e": 1e999`, 1)), "components[0] (SIE): theta_e: number 1e999 is not a finite float64"},
		{sie(strings.Replace(ok, `"theta_e": 1`, `"theta_e": NaN`, 1)), "NaN and Inf are not JSON numbers"},
		{`{"components": [3]}`, `lens.json: components[0]: expected a JSON object, got number`},
		{`{"components": [{"type": 3}]}`, `lens.json: components[0]: type must be a string, got number`},
		{`[1]`, `lens.json: expected a JSON object, got array`},
		{sie(strings.Replace(ok, `"theta_e": 1`, `"theta_e": "1"`, 1)), "components[0] (SIE): theta_e: cannot use string"},
		{sie(strings.Replace(ok, `"q": 0.7`, `"q": 0`, 1)), "components[0] (SIE): q must be in (0, 1], got 0"},
		{sie(strings.Replace(ok, `"q": 0.7`, `"q": 1.2`, 1)), "q must be in (0, 1], got 1.2"},
		{sie(strings.Replace(ok, `"q": 0.7, `, ``, 1)), "components[0] (SIE): q is required"},
		{sie(strings.Replace(ok, `"phi": 0.3, `, ``, 1)), "components[0] (SIE): phi is required"},
		{sie(`"theta_e": 1, "center_x": 0, "center_y": 0`), "q and phi (or e1 and e2) are required"},
		{sie(ok + `, "e1": 0.1, "e2": 0`), "give either (q, phi) or (e1, e2), not both"},
		{sie(`"theta_e": 1, "e1": 0.8, "e2": 0.6, "center_x": 0, "center_y": 0`), "ellipticity |e| = sqrt(e1²+e2²) must be < 1, got 1"},
		{sie(`"theta_e": 1, "e1": 0.1, "center_x": 0, "center_y": 0`), "e2 is required"},
		{sie(strings.Replace(ok, `, "center_y": 0`, ``, 1)), "components[0] (SIE): center_y is required"},
		{sie(ok + `, "gamma": 2`), `components[0] (SIE): unknown field "gamma"`},
		{`{"components": [{"type": "NFW", "Rs": 1}]}`, `components[0]: unknown component type "NFW"`},
		{`{"components": [{"theta_e": 1}]}`, `components[0]: type is required`},
		{`{"components": [{"type": "SHEAR", "gamma1": 0.1}]}`, `components[0] (SHEAR): gamma2 is required`},
		{`{"components": [{"type": "SIS", "theta_e": -2, "center_x": 0, "center_y": 0}]}`, `components[0] (SIS): theta_e must be > 0, got -2`},
		{`{"components": []}`, `lens.json: components must not be empty`},
		{`{"source_light": []}`, `lens.json: components is required`},
		{`{"components": [{"type": "SHEAR", "gamma1": 0, "gamma2": 0}], "lens_light": []}`, `lens.json: unknown field "lens_light"`},
		{`{"components": [`, `lens.json: `},
		{sersic(strings.Replace(okS, `"n_sersic": 1.5`, `"n_sersic": 0`, 1)), "source_light[0] (SERSIC_ELLIPSE): n_sersic must be in [0.2, 20] (b_n = 1.9992 n − 0.3271 must be positive), got 0"},
		{sersic(strings.Replace(okS, `"n_sersic": 1.5`, `"n_sersic": 0.1`, 1)), "source_light[0] (SERSIC_ELLIPSE): n_sersic must be in [0.2, 20] (b_n = 1.9992 n − 0.3271 must be positive), got 0.1"},
		{sersic(strings.Replace(okS, `"R_sersic": 0.3`, `"R_sersic": -0.3`, 1)), "source_light[0] (SERSIC_ELLIPSE): R_sersic must be > 0, got -0.3"},
		{sersic(strings.Replace(okS, `"amp": 1, `, ``, 1)), "source_light[0] (SERSIC_ELLIPSE): amp is required"},
		{sersic(strings.Replace(okS, `"q": 0.8`, `"q": -0.8`, 1)), "source_light[0] (SERSIC_ELLIPSE): q must be in (0, 1], got -0.8"},
		{sersic(`"amp": 1, "R_sersic": 0.3, "n_sersic": 1, "e1": 0, "e2": -1, "center_x": 0, "center_y": 0`), "source_light[0] (SERSIC_ELLIPSE): ellipticity |e|"},
		{sersic(okS + `, "size": 3`), `source_light[0] (SERSIC_ELLIPSE): unknown field "size"`},
		{`{"components": [{"type": "SHEAR", "gamma1": 0, "gamma2": 0}], "source_light": [{"type": "GAUSSIAN"}]}`, `source_light[0]: unknown source_light type "GAUSSIAN"`},
	}
	for _, c := range cases {
		_, err := Parse(strings.NewReader(c.in), "lens.json")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.in, err)
		case c.want != "" && err == nil:
			t.Errorf("%s: no error, want %q", c.in, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s:\n got  %v\n want %q", c.in, err, c.want)
		case c.want != "" && !strings.HasPrefix(err.Error(), "lens.json: "):
			t.Errorf("error does not name the file: %v", err)
		}
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}
