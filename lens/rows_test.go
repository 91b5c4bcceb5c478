package lens

import (
	"math"
	"testing"
)

// TestRowsMatchOperator compares the composed rows with Operator.At entry by
// entry, for two lenses built into the same Rows (buffer reuse).
func TestRowsMatchOperator(t *testing.T) {
	psf, err := GaussianPSF(0.25, 0.1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Obs: Grid{N: 12, Scale: 0.1}, Src: Grid{N: 10, Scale: 0.06}, PSF: psf}
	r, err := NewRows(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Params{{0.4, 0.1, -0.05, 0.02, 0.01, 0.03, -0.02}, {0.5, -0.2, 0.1, -0.03, 0.02, 0, 0.05}} {
		r.Build(p.Mass())
		op, err := NewOperator(p.Mass(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m, n := r.Dims()
		nnz := 0
		for i := 0; i < m; i++ {
			dense := make([]float64, n)
			idx, val := r.Row(i)
			for k, j := range idx {
				if k > 0 && idx[k-1] >= j {
					t.Fatalf("row %d: columns not ascending", i)
				}
				dense[j] = val[k]
			}
			for j := 0; j < n; j++ {
				if want := op.At(i, j); math.Abs(dense[j]-want) > 1e-15 {
					t.Fatalf("A[%d][%d] = %g, want %g", i, j, dense[j], want)
				}
			}
			nnz += len(idx)
		}
		if nnz != op.NNZ() {
			t.Errorf("nnz %d, operator %d", nnz, op.NNZ())
		}
	}
}
