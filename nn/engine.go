package nn

import (
	"runtime"
	"sync/atomic"
)

// Engine bundles the matrix-multiply back-end and a fixed pool of worker
// goroutines shared by all layers of one network. Layers parallelise over
// the batch: Run splits the images of a batch into contiguous, statically
// assigned chunks, one per worker, so which worker sees which image depends
// only on the batch size and the worker count, never on scheduling.
//
// Workers wait for work actively for a short while (about spinWait) before
// parking, and so does the caller waiting for them: a forward pass issues
// a few hundred parallel sections, many of them tens of microseconds long
// at batch 1, and handing each to a parked goroutine through the scheduler
// costs about as much as the section itself (the woken goroutine is queued
// on the caller's own processor, which then often runs every task alone).
//
// An Engine (and every layer built on it) is not safe for concurrent use:
// one Forward or Backward at a time.
type Engine struct {
	gemm    Gemm
	workers int
	wk      []*worker
	pending atomic.Int64 // tasks handed out and not finished
	waiting atomic.Bool  // the caller is parked on done
	done    chan struct{}
	scr     [][numScratch][]float32 // per-worker scratch shared by all layers
	next    atomic.Int64            // next task of a RunDynamic
	add     addJob                  // AddTo's operands
	infer   bool                    // forward passes keep nothing for Backward
	fixed   bool                    // weights declared unchanging (SetWeightsFixed)
	gen     int                     // bumped by SetInference and SetWeightsFixed: invalidates weight caches
	noPGrad bool                    // Backward computes input gradients only
}

const numScratch = 4

// spinIters is how many times a waiting goroutine polls before parking
// (each poll is an atomic load; every 64th also yields the processor), on
// the order of 50 µs. A variable only so that BenchmarkSpinWaitCPU can
// compare values in one run; nothing else changes it.
var spinIters = 1 << 14

type job struct {
	fn        func(w, i int)
	w, lo, hi int
	dyn       bool
}

// worker is one pool goroutine's mailbox: the caller writes j, then bumps
// seq; the worker runs j once it sees seq change.
type worker struct {
	j        job
	seq      atomic.Uint64
	sleeping atomic.Bool
	wake     chan struct{} // capacity 1; a token may be stale
	_        [64]byte      // keep mailboxes on separate cache lines
}

// NewEngine returns an engine using g with the given number of workers;
// workers ≤ 0 means runtime.GOMAXPROCS(0). Close releases the goroutines.
// On CPUs with AVX2 and FMA the engine sends the small untransposed
// products of the layers to its own kernel and the rest to g (see
// smallGemm); Gemm reports the combination. NaiveGemm is used as given.
func NewEngine(g Gemm, workers int) *Engine {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e := &Engine{gemm: withSmallKernel(g), workers: workers, scr: make([][numScratch][]float32, workers),
		done: make(chan struct{}, 1)}
	e.add.fn = e.addTask
	for w := 1; w < workers; w++ {
		wk := &worker{wake: make(chan struct{}, 1)}
		e.wk = append(e.wk, wk)
		go e.serve(wk)
	}
	return e
}

// serve is the loop of one pool goroutine.
func (e *Engine) serve(wk *worker) {
	var seen uint64
	for {
		for i := 0; wk.seq.Load() == seen; i++ {
			if i < spinIters {
				if i&63 == 63 {
					runtime.Gosched()
				}
				continue
			}
			wk.sleeping.Store(true)
			if wk.seq.Load() == seen {
				<-wk.wake
			}
			wk.sleeping.Store(false)
		}
		seen = wk.seq.Load()
		j := wk.j
		if j.fn == nil {
			return // Close
		}
		if j.dyn {
			e.claim(j.w, j.hi, j.fn)
		} else {
			for i := j.lo; i < j.hi; i++ {
				j.fn(j.w, i)
			}
		}
		if e.pending.Add(-1) == 0 && e.waiting.Load() {
			select {
			case e.done <- struct{}{}:
			default:
			}
		}
	}
}

// post hands j to worker wk.
func (wk *worker) post(j job) {
	wk.j = j
	wk.seq.Add(1)
	if wk.sleeping.Load() {
		select {
		case wk.wake <- struct{}{}:
		default:
		}
	}
}

// wait returns when every task handed out has finished.
func (e *Engine) wait() {
	for i := 0; e.pending.Load() != 0; i++ {
		if i < spinIters {
			if i&63 == 63 {
				runtime.Gosched()
			}
			continue
		}
		e.waiting.Store(true)
		if e.pending.Load() != 0 {
			<-e.done
		}
		e.waiting.Store(false)
	}
}

// Gemm returns the matrix-multiply back-end.
func (e *Engine) Gemm() Gemm { return e.gemm }

// Workers returns the number of workers (each layer keeps that many
// scratch buffers and gradient accumulators).
func (e *Engine) Workers() int { return e.workers }

// Close stops the worker goroutines. The engine must not be used afterwards.
func (e *Engine) Close() {
	for _, wk := range e.wk {
		wk.post(job{})
	}
	e.wk = nil
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
	e.pending.Store(int64(W - 1))
	for w := 1; w < W; w++ {
		e.wk[w-1].post(job{fn: fn, w: w, lo: w * n / W, hi: (w + 1) * n / W})
	}
	for i := 0; i < n/W; i++ {
		fn(0, i)
	}
	e.wait()
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
	e.pending.Store(int64(W - 1))
	for w := 1; w < W; w++ {
		e.wk[w-1].post(job{fn: fn, w: w, hi: n, dyn: true})
	}
	e.claim(0, n, fn)
	e.wait()
}

// addJob holds the operands of AddTo and its task function (a method value
// made once, so that AddTo does not allocate).
type addJob struct {
	dst, src []float32
	s        float32
	fn       func(w, i int)
}

// addChunk is the number of elements of one AddTo task.
const addChunk = 1 << 15

// AddTo sets dst[j] += src[j]·s for j < len(dst) (the product rounded
// before the sum, as the Go expression; s = 1 adds src exactly), in
// parallel tasks of addChunk elements: the residual and skip-connection
// sums of backward passes, which run over whole activation tensors. It does
// not allocate.
func (e *Engine) AddTo(dst, src []float32, s float32) {
	src = src[:len(dst)]
	e.add.dst, e.add.src, e.add.s = dst, src, s
	e.RunDynamic((len(dst)+addChunk-1)/addChunk, e.add.fn)
	e.add.dst, e.add.src = nil, nil
}

func (e *Engine) addTask(_, t int) {
	lo := t * addChunk
	hi := min(lo+addChunk, len(e.add.dst))
	addScaled(e.add.dst[lo:hi], e.add.src[lo:hi], e.add.s)
}

// addScaled sets d[j] += v[j]·s for j < len(d), the product rounded before
// the sum (s = 1 adds v exactly); axpyAVX does the multiples of 8 on the
// vector paths, with the same rounding.
func addScaled(d, v []float32, s float32) {
	v = v[:len(d)]
	j := 0
	if n := len(d) &^ 7; n > 0 && haveSIMD() {
		axpyVec(&d[0], &v[0], n, s)
		j = n
	}
	if s != 1 {
		for ; j < len(d); j++ {
			d[j] += v[j] * s
		}
		return
	}
	for ; j < len(d); j++ {
		d[j] += v[j]
	}
}

// runBackward runs the tasks of a backward pass: statically split (Run)
// when parameter gradients are on, because each worker then accumulates
// its own partial gradients; dynamically (RunDynamic) when they are off,
// where the tasks only write disjoint parts of the input gradient (the
// per-worker accumulators they may still touch are neither zeroed for nor
// reduced into anything), so that a worker slowed by other load on the
// machine does not hold up an input-gradient back-propagation. The input
// gradient is the same either way.
func (e *Engine) runBackward(n int, fn func(w, i int)) {
	if e.noPGrad {
		e.RunDynamic(n, fn)
		return
	}
	e.Run(n, fn)
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
// call SetInference(true) again, which drops those caches. SetInference
// also ends a SetWeightsFixed period.
func (e *Engine) SetInference(on bool) { e.infer, e.fixed, e.gen = on, false, e.gen+1 }

// SetWeightsFixed(true) declares that the parameters will not change until
// the next SetWeightsFixed or SetInference call: in training mode too, the
// layers then keep their weight transforms (the Winograd-domain weights of
// the forward pass and of Backward's flipped kernel) from one call to the
// next, as inference mode does, instead of recomputing them on every
// Forward and Backward. For repeated vector–Jacobian products of a trained
// network (posterior.NetworkPrior); results are unchanged bit for bit.
// Each call drops the caches.
func (e *Engine) SetWeightsFixed(on bool) { e.fixed, e.gen = on, e.gen+1 }

// WeightsFixed reports whether SetWeightsFixed(true) is in effect.
func (e *Engine) WeightsFixed() bool { return e.fixed }

// cacheWeights reports whether layers may reuse weight transforms computed
// in the current gen (inference mode or fixed weights).
func (e *Engine) cacheWeights() bool { return e.infer || e.fixed }

// Inference reports whether the engine is in inference mode.
func (e *Engine) Inference() bool { return e.infer }

// SetParamGrads switches parameter gradients on (the default) or off. With
// them off, Backward of the layers built on e returns the same input
// gradient but neither computes nor accumulates dL/dθ (Param.Grad is left
// as it was): a vector–Jacobian product with respect to the input then
// costs about one forward pass less.
func (e *Engine) SetParamGrads(on bool) { e.noPGrad = !on }

// ParamGrads reports whether Backward accumulates parameter gradients.
func (e *Engine) ParamGrads() bool { return !e.noPGrad }

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
		addScaled(dst, g.bufs[w][:len(dst)], 1)
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

// addRowSums adds scale·Σ_{j ∈ [lo, hi)} m[r·stride + j] to dst[r] for every
// row r of dst: the bias gradient of a layer whose output gradient m holds
// one row of stride values per channel.
// Each row is summed in eight interleaved partial sums (element j into
// sum j mod 8, combined pairwise at the end), which removes the one-add-
// at-a-time dependency chain of a single running sum; the order depends
// only on hi − lo, so results stay independent of workers and batch.
func addRowSums(dst, m []float32, stride, lo, hi int, scale float32) {
	for r := range dst {
		dst[r] += scale * sum8(m[r*stride+lo:r*stride+hi])
	}
}

// sum8 returns Σ x: element j goes into partial sum j mod 8 (in order),
// then ((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7)).
func sum8(x []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	j := 0
	if n := len(x) &^ 7; n > 0 && haveSIMD() {
		// the same lanes in one vector register, the same adds in order
		var a [8]float32
		sum8AVX(&x[0], n, &a)
		s0, s1, s2, s3, s4, s5, s6, s7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
		j = n
	}
	for ; j+8 <= len(x); j += 8 {
		v := x[j : j+8 : j+8]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
		s4 += v[4]
		s5 += v[5]
		s6 += v[6]
		s7 += v[7]
	}
	var t [8]float32
	for k, v := range x[j:] {
		t[k] = v
	}
	s0 += t[0]
	s1 += t[1]
	s2 += t[2]
	s3 += t[3]
	s4 += t[4]
	s5 += t[5]
	s6 += t[6]
	s7 += t[7]
	return ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
}
