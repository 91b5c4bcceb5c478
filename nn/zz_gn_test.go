package nn

import "testing"

func BenchmarkZZGnSiluRow(b *testing.B) {
	x := make([]float32, 4096)
	y := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%17)*0.1 - 0.8
	}
	b.SetBytes(4096 * 8)
	for i := 0; i < b.N; i++ {
		gnSiluRow(x, nil, nil, y, 0.1, 1.2, 0.9, 0.05)
	}
}
