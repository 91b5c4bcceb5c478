package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Engine bundles the matrix-multiply back-end and a fixed pool of worker
// goroutines shared by all layers of one network. Layers parallelise over
// the batch: Run splits the images of a batch into contiguous, statically
// assigned chunks, one per worker, so which worker sees which image depends
// only on the batch size and the worker count, never on scheduling.
//
// An Engine (and every layer built on it) is not safe for concurrent use:
// one Forward or Backward at a time.
type Engine struct {
	gemm    Gemm
	workers int
	jobs    []chan job
	wg      sync.WaitGroup
	scr     [][numScratch][]float32 // per-worker scratch shared by all layers
	next    atomic.Int64            // next task of a RunDynamic
	infer   bool                    // forward passes keep nothing for Backward
	gen     int                     // bumped by SetInference: invalidates weight caches
}

const numScratch = 4

type job struct {
	fn        func(w, i int)
	w, lo, hi int
	dyn       bool
}

// NewEngine returns an engine using g with the given number of workers;
// workers ≤ 0 means runtime.GOMAXPROCS(0). Close releases the goroutines.
func NewEngine(g Gemm, workers int) *Engine {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e := &Engine{gemm: g, workers: workers, scr: make([][numScratch][]float32, workers)}
	for w := 1; w < workers; w++ {
		ch := make(chan job)
		e.jobs = append(e.jobs, ch)
		go func() {
			for j := range ch {
				if j.dyn {
					e.claim(j.w, j.hi, j.fn)
				} else {
					for i := j.lo; i < j.hi; i++ {
						j.fn(j.w, i)
					}
				}
				e.wg.Done()
			}
		}()
	}
	return e
}

// Gemm returns the matrix-multiply back-end.
func (e *Engine) Gemm() Gemm { return e.gemm }

// Workers returns the number of workers (each layer keeps that many
// scratch buffers and gradient accumulators).
func (e *Engine) Workers() int { return e.workers }

// Close stops the worker goroutines. The engine must not be used afterwards.
func (e *Engine) Close() {
	for _, ch := range e.jobs {
		close(ch)
	}
	e.jobs = nil
	e.workers = 1
}

// used returns how many workers Run(n, ·) employs.
func (e *Engine) used(n int) int { return max(1, min(e.workers, n)) }

// Run calls fn(w, i) for every i in [0, n). Worker w of W = min(Workers, n)
// handles i in [w·n/W, (w+1)·n/W); worker 0 is the calling goroutine. Run
// returns when all calls are done. It does not allocate.
func (e *Engine) Run(n int, fn func(w, i int)) {
	W := e.used(n)
	if W == 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	e.wg.Add(W - 1)
	for w := 1; w < W; w++ {
		e.jobs[w-1] <- job{fn: fn, w: w, lo: w * n / W, hi: (w + 1) * n / W}
	}
	for i := 0; i < n/W; i++ {
		fn(0, i)
	}
	e.wg.Wait()
}

// RunDynamic calls fn(w, i) for every i in [0, n) like Run, but workers
// claim tasks one at a time, so a worker slowed down by other load on the
// machine takes fewer. Which worker runs a task then depends on scheduling:
// use it only where fn's result does not depend on w (no per-worker
// accumulation), as in forward passes. It does not allocate.
func (e *Engine) RunDynamic(n int, fn func(w, i int)) {
	W := e.used(n)
	if W == 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	e.next.Store(0)
	e.wg.Add(W - 1)
	for w := 1; w < W; w++ {
		e.jobs[w-1] <- job{fn: fn, w: w, hi: n, dyn: true}
	}
	e.claim(0, n, fn)
	e.wg.Wait()
}

func (e *Engine) claim(w, n int, fn func(w, i int)) {
	for {
		i := int(e.next.Add(1) - 1)
		if i >= n {
			return
		}
		fn(w, i)
	}
}

// SetInference switches the layers built on e between training mode (the
// default: Forward keeps what Backward needs) and inference mode, where
// Forward skips storing normalised activations and gates; Backward must
// not be called after an inference-mode Forward. In inference mode layers
// also keep transforms of their weights (Winograd) from one Forward to the
// next, so weights must not change while it is on: after changing them,
// call SetInference(true) again, which drops those caches.
func (e *Engine) SetInference(on bool) { e.infer, e.gen = on, e.gen+1 }

// Inference reports whether the engine is in inference mode.
func (e *Engine) Inference() bool { return e.infer }

// wgrad holds one gradient accumulator per worker for a parameter, so that
// workers never write to shared memory; reduce adds them into Param.Grad in
// worker order, which makes the result independent of scheduling.
type wgrad struct {
	p    *Param
	bufs [][]float32
}

func newWGrad(e *Engine, p *Param) *wgrad {
	g := &wgrad{p: p, bufs: make([][]float32, e.workers)}
	for w := range g.bufs {
		g.bufs[w] = make([]float32, p.Size())
	}
	return g
}

func (g *wgrad) zero(used int) {
	for w := 0; w < used; w++ {
		clear(g.bufs[w])
	}
}

func (g *wgrad) reduce(used int) {
	dst := g.p.Grad
	for w := 0; w < used; w++ {
		b := g.bufs[w][:len(dst)]
		for i := range dst {
			dst[i] += b[i]
		}
	}
}

// grow returns buf if it has length n, else a new zeroed slice of length n.
func grow(buf []float32, n int) []float32 {
	if len(buf) == n {
		return buf
	}
	if cap(buf) >= n {
		buf = buf[:n]
		clear(buf)
		return buf
	}
	return make([]float32, n)
}

// scratch returns worker w's scratch buffer number slot with length n. Its
// content is unspecified. Layers run one after another, so all layers share
// the same few per-worker buffers; they grow to the largest request and are
// then reused without allocation.
func (e *Engine) scratch(w, slot, n int) []float32 {
	b := e.scr[w][slot]
	if cap(b) < n {
		b = make([]float32, n)
		e.scr[w][slot] = b
	}
	return b[:n]
}
