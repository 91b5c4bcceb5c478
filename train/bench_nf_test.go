package train

import (
	"fmt"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
)

// BenchmarkTrainStepNF times one full training update (batch 16 of 64²
// images: data draw, forward, backward, clipping, Adam, EMA) of the score
// network at today's width nf = 32 and the wider 40, 48 and 64, so the cost
// of a wider prior can be read as ratios taken in the same run (nf = 48 is
// skipped: with channel multipliers (1, 2, 2, 2) its up path concatenates
// 96 + 48 = 144 channels, which GroupNorm's min(C/4, 32) groups do not
// divide, so score.New refuses it):
//
//	nice go test ./train -run '^$' -bench TrainStepNF -benchtime 3x -count 2
func BenchmarkTrainStepNF(b *testing.B) {
	g, err := nn.DefaultGemm()
	if err != nil {
		b.Fatal(err)
	}
	data := blobData(40, 64)
	for _, nf := range []int{32, 40, 48, 64} {
		b.Run(fmt.Sprintf("nf%d", nf), func(b *testing.B) {
			cfg := score.DefaultConfig()
			cfg.NF = nf
			net, err := score.New(cfg, g, 1)
			if err != nil {
				b.Skipf("nf %d: %v", nf, err)
			}
			defer net.Close()
			tc := DefaultConfig()
			tc.BatchSize = 16
			tr, err := New(tc, net, data)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := tr.TrainStep(); err != nil { // warm the buffers
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := tr.TrainStep(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/step")
			b.ReportMetric(float64(net.NumParams()), "params")
		})
	}
}
