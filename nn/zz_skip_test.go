package nn

import (
	"fmt"
	"testing"
)

func BenchmarkZZSkip(b *testing.B) {
	g, _ := DefaultGemm()
	for _, tc := range []struct{ cin, cout, hw int }{{96, 32, 64}, {64, 32, 64}, {128, 64, 32}, {128, 64, 16}} {
		b.Run(fmt.Sprintf("%d_%d_%d", tc.cin, tc.cout, tc.hw), func(b *testing.B) {
			e := NewEngine(g, 0)
			defer e.Close()
			e.SetInference(true)
			c := NewConv2D(e, "c", tc.cin, tc.cout, tc.hw, tc.hw, 1, 1, 0)
			c.Init(1, NewRand(1))
			x := randVec(NewRand(2), tc.cin*tc.hw*tc.hw, 1)
			c.Forward(x, 1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Forward(x, 1)
			}
			b.ReportMetric(float64(c.Flops())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
