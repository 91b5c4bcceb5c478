package lens

import (
	"math/rand/v2"
	"testing"
)

type benchSize struct {
	name     string
	obs, src Grid
}

// Source and observation grids at the default lenscore size and at the
// paper's size (Adam et al. 2022: 256² source, 128² observation).
var benchSizes = []benchSize{
	{"src64_obs64", Grid{64, 0.1}, Grid{64, 0.05}},
	{"src256_obs128", Grid{128, 0.05}, Grid{256, 0.0125}},
}

func benchConfig(b *testing.B, s benchSize, withPSF bool) Config {
	cfg := Config{Obs: s.obs, Src: s.src, Supersample: 2}
	if withPSF {
		p, err := GaussianPSF(2*s.obs.Scale, s.obs.Scale, 0) // FWHM 2 pixels
		if err != nil {
			b.Fatal(err)
		}
		cfg.PSF = p
	}
	return cfg
}

func benchOperator(b *testing.B, kind string) {
	for _, s := range benchSizes {
		for _, psf := range []bool{false, true} {
			name := s.name + "_noPSF"
			if psf {
				name = s.name + "_PSF"
			}
			b.Run(name, func(b *testing.B) {
				cfg := benchConfig(b, s, psf)
				op, err := NewOperator(testLens(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				m, n := op.Dims()
				rng := rand.New(rand.NewPCG(1, 1))
				x, y := randVec(rng, n), randVec(rng, m)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					switch kind {
					case "build":
						if _, err := NewOperator(testLens(), cfg); err != nil {
							b.Fatal(err)
						}
					case "rownorms": // build plus the composed row norms
						o, err := NewOperator(testLens(), cfg)
						if err != nil {
							b.Fatal(err)
						}
						o.RowNorms2()
					case "apply":
						op.Apply(y, x)
					case "adjoint":
						op.Adjoint(x, y)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(op.NNZ()), "nnzA")
				b.ReportMetric(float64(op.StoredNNZ()), "stored")
			})
		}
	}
}

// BenchmarkBuild times NewOperator; BenchmarkRowNorms2 NewOperator plus
// the first RowNorms2 (which composes A row by row); nnzA is the number of
// non-zeros of the composed A, stored the coefficients the factored
// operator keeps (nnz of L plus PSF taps).
func BenchmarkBuild(b *testing.B)     { benchOperator(b, "build") }
func BenchmarkRowNorms2(b *testing.B) { benchOperator(b, "rownorms") }
func BenchmarkApply(b *testing.B)     { benchOperator(b, "apply") }
func BenchmarkAdjoint(b *testing.B)   { benchOperator(b, "adjoint") }
