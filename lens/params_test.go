package lens

import (
	"math"
	"strings"
	"testing"
)

func TestParamsRoundTrip(t *testing.T) {
	p := Params{1.2, 0.1, -0.2, 0.03, -0.04, 0.05, -0.02}
	m := p.Model()
	data, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(strings.NewReader(string(data)), "rt.json")
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParamsFromModel(m2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		if math.Abs(p[i]-q[i]) > 1e-14 {
			t.Errorf("%s: %g → %g", ParamNames[i], p[i], q[i])
		}
	}
	// The SIE of the vector has q = (1−|e|)/(1+|e|).
	e := math.Hypot(0.1, -0.2)
	if s := p.SIE(); math.Abs(s.Q-(1-e)/(1+e)) > 1e-15 {
		t.Errorf("q = %g, want %g", s.Q, (1-e)/(1+e))
	}
	// Deflection of the vector equals SIE + shear summed by hand.
	ax, ay := p.Mass().Deflection(0.3, -0.7)
	bx, by := p.SIE().Deflection(0.3, -0.7)
	cx, cy := 0.05*0.3-0.02*-0.7, -0.02*0.3-0.05*-0.7
	if math.Abs(ax-bx-cx) > 1e-15 || math.Abs(ay-by-cy) > 1e-15 {
		t.Errorf("deflection (%g, %g), want (%g, %g)", ax, ay, bx+cx, by+cy)
	}
	if _, err := ParamsFromModel(&Model{Lens: []Mass{Shear{}}}); err == nil {
		t.Error("a model without SIE was accepted")
	}
}

func TestPriorsCheck(t *testing.T) {
	pr := DefaultPriors(2)
	ok := Params{1, 0.1, 0.1, 0, 0, 0.01, 0.01}
	if err := pr.Check(ok); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		i    int
		v    float64
		want string
	}{
		{PThetaE, 0, "theta_e"}, {PThetaE, 3, "theta_e"}, {PE1, 0.59, "ellipticity"},
		{PCenterX, -2.5, "center_x"}, {PGamma2, math.NaN(), "gamma2"}, {PGamma1, 0.29, "shear"},
	}
	for _, c := range cases {
		p := ok
		p[c.i] = c.v
		if c.want == "ellipticity" {
			p[PE2] = 0.3
		}
		if c.want == "shear" {
			p[PGamma2] = 0.2
		}
		err := pr.Check(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %g: error %v, want one naming %s", ParamNames[c.i], c.v, err, c.want)
		}
		if !math.IsInf(pr.LogPrior(p), -1) {
			t.Errorf("%s = %g: log prior %g, want -Inf", ParamNames[c.i], c.v, pr.LogPrior(p))
		}
	}
}

func TestPriorSpec(t *testing.T) {
	spec, err := ParsePriorFlag("theta_e=0.5:2, center_x=N(0.1,0.05),gamma1=fixed,e=0.5")
	if err != nil {
		t.Fatal(err)
	}
	pr := DefaultPriors(3)
	if err := spec.Apply(&pr); err != nil {
		t.Fatal(err)
	}
	if q := pr.P[PThetaE]; q.Min != 0.5 || q.Max != 2 || q.Fixed {
		t.Errorf("theta_e prior %+v", q)
	}
	if q := pr.P[PCenterX]; q.Mean != 0.1 || q.Sigma != 0.05 || q.Min != -3 {
		t.Errorf("center_x prior %+v", q)
	}
	if !pr.P[PGamma1].Fixed || pr.MaxEllipticity != 0.5 {
		t.Errorf("gamma1 fixed %v, max e %g", pr.P[PGamma1].Fixed, pr.MaxEllipticity)
	}
	if got := pr.Free(); len(got) != 6 {
		t.Errorf("free %v", got)
	}
	// Gaussian factor: −½ z².
	p := Params{1, 0, 0, 0.2, 0, 0, 0}
	if lp := pr.LogPrior(p); math.Abs(lp-(-0.5*4)) > 1e-12 {
		t.Errorf("log prior %g, want -2", lp)
	}
	for _, bad := range []struct{ in, want string }{
		{"thetae=1:2", "unknown parameter"}, {"theta_e=2:1", "min 2 must be < max 1"},
		{"e1=N(0,-1)", "sigma must be > 0"}, {"e1", "want NAME="}, {"gamma1=x:1", "not a number"},
	} {
		if _, err := ParsePriorFlag(bad.in); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

func TestLensFilePriors(t *testing.T) {
	src := `{"components": [{"type": "SIE", "theta_e": 1, "e1": 0.1, "e2": 0, "center_x": 0, "center_y": 0}],
	 "priors": {"theta_e": {"min": 0.5, "max": 1.5}, "gamma2": {"fixed": true}, "e": {"max": 0.4}}}`
	m, err := Parse(strings.NewReader(src), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := m.MarshalJSON()
	m2, err := Parse(strings.NewReader(string(data)), "p2.json")
	if err != nil {
		t.Fatal(err)
	}
	pr := DefaultPriors(2)
	if err := m2.Priors.Apply(&pr); err != nil {
		t.Fatal(err)
	}
	if pr.P[PThetaE].Max != 1.5 || !pr.P[PGamma2].Fixed || pr.MaxEllipticity != 0.4 {
		t.Errorf("round-tripped priors %+v", pr)
	}
	for _, bad := range []struct{ in, want string }{
		{`"priors": {"thetae": {"min": 1}}`, `unknown parameter "thetae"`},
		{`"priors": {"theta_e": {"minimum": 1}}`, "minimum"},
		{`"priors": {"e1": {"mean": 0}}`, "needs both mean and sigma"},
	} {
		s := `{"components": [{"type": "SIS", "theta_e": 1, "center_x": 0, "center_y": 0}], ` + bad.in + `}`
		if _, err := Parse(strings.NewReader(s), "bad.json"); err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "bad.json: priors") {
			t.Errorf("%s: error %v, want %q", bad.in, err, bad.want)
		}
	}
}
