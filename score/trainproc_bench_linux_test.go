package score

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
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
			cfg := DefaultConfig()
			cfg.Workers = workers
			net, err := New(cfg, fastGemm(b), 1)
			if err != nil {
				b.Fatal(err)
			}
			defer net.Close()
			const n = 16
			rng := rand.New(rand.NewPCG(1, 2))
			x, d := randVec(rng, n*4096, 1), randVec(rng, n*4096, 1)
			sig := make([]float32, n)
			for i := range sig {
				sig[i] = float32(0.01 + rng.Float64())
			}
			run := func() { net.Forward(x, sig, n); net.Backward(d) }
			run()
			c0 := procCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run()
			}
			b.StopTimer()
			b.ReportMetric(float64((procCPU()-c0).Microseconds())/float64(b.N), "proc-cpu-µs/op")
		})
	}
}

// procCPU returns the process's user + system CPU time.
func procCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
