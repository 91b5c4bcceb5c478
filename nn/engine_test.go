package nn

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestEngineRunsEveryTaskOnce checks Run and RunDynamic both while the
// workers are polling (back-to-back calls) and after they have parked
// (a pause well beyond the polling time), and that Close ends the pool.
func TestEngineRunsEveryTaskOnce(t *testing.T) {
	before := runtime.NumGoroutine()
	e := NewEngine(NaiveGemm{}, 3)
	const n = 37
	var hits [n]atomic.Int32
	var byWorker [3]atomic.Int32
	fn := func(w, i int) {
		hits[i].Add(1)
		byWorker[w].Add(1)
	}
	for round := 0; round < 40; round++ {
		if round%10 == 9 {
			time.Sleep(5 * time.Millisecond) // let the workers park
		}
		for i := range hits {
			hits[i].Store(0)
		}
		for w := range byWorker {
			byWorker[w].Store(0)
		}
		if round%2 == 0 {
			e.Run(n, fn)
			// static split: worker w gets [w·n/3, (w+1)·n/3)
			for w := 0; w < 3; w++ {
				if got, want := byWorker[w].Load(), int32((w+1)*n/3-w*n/3); got != want {
					t.Fatalf("round %d: worker %d ran %d tasks, want %d", round, w, got, want)
				}
			}
		} else {
			e.RunDynamic(n, fn)
		}
		for i := range hits {
			if h := hits[i].Load(); h != 1 {
				t.Fatalf("round %d: task %d ran %d times", round, i, h)
			}
		}
	}
	e.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after Close, %d before NewEngine", g, before)
	}
}
