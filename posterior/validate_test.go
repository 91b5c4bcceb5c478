package posterior

import (
	"context"
	"strings"
	"testing"
)

func TestBadInputGivesClearErrors(t *testing.T) {
	p := newProblem(t, false, 0.1)
	lik, _ := NewConvolved(p.op, p.y, p.sn, nil, testVE.Sigma)
	ctx := context.Background()
	cases := []struct {
		name, want string
		err        error
	}{
		{"sampler", "Sampler", func() error {
			_, err := Sample(ctx, p.prior, lik, testVE, Options{Sampler: "rk4"})
			return err
		}()},
		{"init mean", "InitMean", func() error {
			_, err := Sample(ctx, p.prior, lik, testVE, Options{InitMean: []float64{1}})
			return err
		}()},
		{"eps", "Eps", func() error {
			_, err := Sample(ctx, p.prior, lik, testVE, Options{Eps: 1.5})
			return err
		}()},
		{"dims", "pixels", func() error {
			small, _ := NewIsoGaussian([]float64{0, 0}, 1, testVE.Sigma)
			_, err := Sample(ctx, small, lik, testVE, Options{})
			return err
		}()},
		{"sigmaN", "sigmaN", func() error {
			_, err := NewConvolved(p.op, p.y, []float64{1, 2}, nil, testVE.Sigma)
			return err
		}()},
		{"mask", "mask", func() error {
			_, err := NewDiag(p.op, p.y, p.sn, []bool{true}, testVE.Sigma)
			return err
		}()},
		{"resume missing", "no such file", func() error {
			_, err := Resume(ctx, p.prior, lik, testVE, Options{CheckpointPath: t.TempDir() + "/none"})
			return err
		}()},
		{"stop without path", "CheckpointPath", func() error {
			_, err := Sample(ctx, p.prior, lik, testVE, Options{Steps: 5, StopAfter: 2})
			return err
		}()},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, c.err, c.want)
		}
	}
}

// Masked pixels must not influence the convolved score: changing y there
// leaves the score unchanged, changing a kept pixel does not.
func TestMaskExcludesPixels(t *testing.T) {
	p := newProblem(t, false, 0.1)
	m, n := p.op.Dims()
	keep := make([]bool, m)
	for i := range keep {
		keep[i] = i%3 != 0
	}
	y2 := append([]float64(nil), p.y...)
	y2[0] += 5
	a, _ := NewConvolved(p.op, p.y, p.sn, keep, testVE.Sigma)
	b, _ := NewConvolved(p.op, y2, p.sn, keep, testVE.Sigma)
	x := make([]float64, n)
	sa, sb := make([]float64, n), make([]float64, n)
	scr := make([]float64, m)
	a.Score(sa, x, 0.2, scr)
	b.Score(sb, x, 0.2, scr)
	for i := range sa {
		if sa[i] != sb[i] {
			t.Fatalf("masked pixel changed the score at %d", i)
		}
	}
	y2[1] += 5
	c, _ := NewConvolved(p.op, y2, p.sn, keep, testVE.Sigma)
	c.Score(sb, x, 0.2, scr)
	same := true
	for i := range sa {
		same = same && sa[i] == sb[i]
	}
	if same {
		t.Error("a kept pixel did not change the score")
	}
}

// rowNormOp reports its row norms; NewDiag must use them (and agree with
// the adjoint-based fallback).
type rowNormOp struct {
	*denseOp
	calls int
}

func (r *rowNormOp) RowNorms2(dst []float64) {
	r.calls++
	for i := 0; i < r.m; i++ {
		dst[i] = 0
		for j := 0; j < r.n; j++ {
			dst[i] += r.a[i*r.n+j] * r.a[i*r.n+j]
		}
	}
}

func TestDiagUsesRowNorms(t *testing.T) {
	p := newProblem(t, false, 0.1)
	ro := &rowNormOp{denseOp: p.op}
	a, err := NewDiag(ro, p.y, p.sn, nil, testVE.Sigma)
	if err != nil || ro.calls != 1 {
		t.Fatalf("RowNorms2 not used (calls %d, err %v)", ro.calls, err)
	}
	b, _ := NewDiag(p.op, p.y, p.sn, nil, testVE.Sigma)
	for i := range a.d {
		if d := a.d[i] - b.d[i]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("row %d: RowNorms2 %g, adjoint fallback %g", i, a.d[i], b.d[i])
		}
	}
}
