package train

import (
	"fmt"
	"testing"
	"time"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
)

// benchWidths are the network widths BenchmarkTrainStepNF compares:
// today's nf = 32 and wider ones. nf = 48 is not in the list: with channel
// multipliers (1, 2, 2, 2) its up path concatenates 96 + 48 = 144
// channels, which GroupNorm's min(C/4, 32) groups do not divide, so
// score.New refuses it; 40 and 64 bracket it.
var benchWidths = []int{32, 40, 64}

// BenchmarkTrainStepNF times one full training update (batch 16 of 64²
// images: data draw with augmentation, forward, backward, clipping, Adam,
// EMA) of the score network at each of benchWidths. The widths take turns,
// one update each per iteration, so that a machine whose load changes
// during the run slows them alike and the reported ratios stay meaningful:
//
//	nice go test ./train -run '^$' -bench TrainStepNF -benchtime 4x
//
// Metrics: s/step-nfN (mean seconds per update) and xN/32 (its ratio to
// nf = 32).
func BenchmarkTrainStepNF(b *testing.B) {
	g, err := nn.DefaultGemm()
	if err != nil {
		b.Fatal(err)
	}
	data := blobData(40, 64)
	trs := make([]*Trainer, len(benchWidths))
	for k, nf := range benchWidths {
		cfg := score.DefaultConfig()
		cfg.NF = nf
		net, err := score.New(cfg, g, 1)
		if err != nil {
			b.Fatalf("nf %d: %v", nf, err)
		}
		defer net.Close()
		tc := DefaultConfig()
		tc.BatchSize, tc.Shift, tc.Scale = 16, 1, 0.1
		if trs[k], err = New(tc, net, data); err != nil {
			b.Fatal(err)
		}
		if _, _, err := trs[k].TrainStep(); err != nil { // warm the buffers
			b.Fatal(err)
		}
		b.Logf("nf %d: %d parameters", nf, net.NumParams())
	}
	spent := make([]time.Duration, len(trs))
	for b.Loop() {
		for k, tr := range trs {
			start := time.Now()
			if _, _, err := tr.TrainStep(); err != nil {
				b.Fatal(err)
			}
			spent[k] += time.Since(start)
		}
	}
	for k, nf := range benchWidths {
		b.ReportMetric(spent[k].Seconds()/float64(b.N), fmt.Sprintf("s/step-nf%d", nf))
		if k > 0 {
			b.ReportMetric(spent[k].Seconds()/spent[0].Seconds(), fmt.Sprintf("x%d/32", nf))
		}
	}
}
