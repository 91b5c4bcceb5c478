package score

import (
	"fmt"
	"testing"

	"github.com/lenscore/lenscore/internal/threadcpu"
)

// BenchmarkTrainProcCPU16 times forward + backward with parameter
// gradients at batch 16 with one and with two workers, reporting the
// process CPU time per call (user + sys over all threads): with two
// workers it includes what the serial parts of a pass and the workers'
// waits for each other cost, which the one-thread BenchmarkTrainCPU16
// does not see. Run it with -count to interleave the settings.
func BenchmarkTrainProcCPU16(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			threadcpu.BenchProc(b, trainStep16(b, workers))
		})
	}
}
