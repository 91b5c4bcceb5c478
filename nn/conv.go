package nn

import "math/rand/v2"

// colBudget bounds the im2col scratch (floats per worker); larger images
// are processed in bands of output rows.
const colBudget = 1 << 22

// bandCols is the target number of output pixels per task: every image is
// cut into bands of whole output rows with about this many pixels, so that
// even a single image keeps all workers busy. The band size depends only on
// the layer's shape, never on the batch or the worker count, so results are
// bitwise reproducible (the forward of 8×8 F(2×2) layers, whose outputs do
// not depend on the banding, may run one band per image: oneBandMaxPixels). 1024 (16 rows at 64×64) beat 512 at batch 1 by
// 4–13 % per 64×64 Winograd layer and 5 % over the whole network
// (BenchmarkInfer64Batch1, interleaved pairs), with the training step
// unchanged.
const bandCols = 1024

// Conv2D is a 2-D convolution (cross-correlation, as in PyTorch) with square
// kernel K, stride S and zero padding P on every side:
//
//	y[n,o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v] · x[n,c, S·i−P+u, S·j−P+v],
//
// Ho = (H + 2P − K)/S + 1 (integer division). Weight has shape
// [Cout, Cin, K, K], Bias [Cout]. Each image is processed in bands of
// output rows (see bandCols), each band a GEMM
// W(Cout × Cin·K·K) · col(Cin·K·K × band pixels) after im2col; a 1×1
// stride-1 unpadded convolution multiplies the image directly, and a
// "same" 3×3 stride-1 convolution with Cin ≥ 16 on even sizes uses
// Winograd F(2×2, 3×3) instead (see winograd.go).
//
// Backward of a "same" 3×3 stride-1 convolution computes dx band by band as
// the convolution of dy with the flipped, transposed kernel
// Wf[c,o,u,v] = W[o,c,K−1−u,K−1−v] (im2col of dy, then a GEMM), so bands
// write disjoint rows of dx; other shapes use col2im per image.
type Conv2D struct {
	e                         *Engine
	Cin, Cout, K, Stride, Pad int
	H, W, Ho, Wo              int
	Weight, Bias              *Param
	gw, gb                    *wgrad
	direct                    bool
	tileRows, nb              int
	fRows, fNb                int     // the band split of the last Forward (see oneBandMaxPixels)
	flip                      bool    // backward via the flipped kernel
	tconv                     *Conv2D // geometry of that transposed convolution
	wflip                     []float32
	wU                        []float32   // Winograd-transformed weights (see winograd.go)
	gU                        [][]float32 // per-worker dL/dU (Winograd weight gradient)
	wUGen                     int         // Engine.gen when wU was computed
	flipGen                   int         // Engine.gen when wflip and tconv.wU were computed
	wino4                     bool        // Winograd forward is F(4×4, 3×3) (winograd4.go)

	// Extra, if set before Forward, holds n×Cout values added to the
	// output of channel o of image i on top of the bias (ResBlock's time
	// embedding). Forward clears it.
	Extra []float32
	// Residual, if set before Forward, holds an n×Cout×Ho×Wo tensor s: the
	// output becomes (y + s)·ResidualScale, computed band by band while the
	// band is in cache (ResBlock's (skip + h)/√2). Forward clears both.
	Residual      []float32
	ResidualScale float32

	n        int
	resid    []float32
	rscale   float32
	x, y     []float32
	extra    []float32
	dy, dx   []float32
	fwd, bwd func(w, i int)
	fold     func(w, t int) // foldTask
	foldUsed int            // workers whose gU foldTask sums
	wwt      func(w, o int)
}

// NewConv2D returns a convolution for inputs of Cin×h×w with zero weights;
// call Init (or set Weight.Data).
func NewConv2D(e *Engine, name string, cin, cout, h, w, k, stride, pad int) *Conv2D {
	c := newConvGeom(cin, cout, h, w, k, stride, pad)
	c.e = e
	c.Weight = NewParam(name+".weight", cout, cin, k, k)
	c.Bias = NewParam(name+".bias", cout)
	c.gw, c.gb = newWGrad(e, c.Weight), newWGrad(e, c.Bias)
	if !c.direct && stride == 1 && 2*pad == k-1 {
		c.flip = true
		c.tconv = newConvGeom(cout, cin, h, w, k, 1, pad)
		c.wflip = make([]float32, cin*cout*k*k)
	}
	if c.useWinograd() {
		c.wU = make([]float32, 16*cout*cin)
		c.wwt = c.winoWeightsRow
		if c.useWinograd4() {
			c.wino4, c.wU, c.wwt = true, make([]float32, 36*cout*cin), c.wino4WeightsRow
		}
		c.allocGU()
	}
	if t := c.tconv; t != nil && t.useWinograd() {
		// dx = conv(dy, Wf) runs the Winograd forward of the transposed
		// convolution, whose weights are wflip and whose bias is zero.
		t.e = e
		t.Weight = &Param{Name: name + ".weight(flipped)", Shape: []int{cin, cout, k, k}, Data: c.wflip}
		t.Bias = &Param{Name: name + ".bias(zero)", Shape: []int{cin}, Data: make([]float32, cin)}
		t.wU = make([]float32, 16*cout*cin)
		t.wwt = t.winoWeightsRow
		if t.useWinograd4() {
			t.wino4, t.wU, t.wwt = true, make([]float32, 36*cout*cin), t.wino4WeightsRow
		}
	}
	c.setTileRows(c.tileRows)
	c.fwd, c.bwd, c.fold = c.forwardOne, c.backwardBand, c.foldTask
	if !c.direct && !c.flip {
		c.bwd = c.backwardImage
	}
	return c
}

func newConvGeom(cin, cout, h, w, k, stride, pad int) *Conv2D {
	c := &Conv2D{Cin: cin, Cout: cout, K: k, Stride: stride, Pad: pad, H: h, W: w}
	c.Ho = (h+2*pad-k)/stride + 1
	c.Wo = (w+2*pad-k)/stride + 1
	c.direct = k == 1 && stride == 1 && pad == 0
	c.tileRows = max(1, min(c.Ho, (bandCols+c.Wo-1)/c.Wo, colBudget/(cin*k*k*c.Wo)))
	// At least two bands, so that one image keeps two workers busy (at
	// 8×8 a single band left one of two workers idle at batch 1: 106 µs
	// against 76 µs with two bands for a 64→64 Winograd layer).
	c.tileRows = min(c.tileRows, (c.Ho+1)/2)
	c.nb = (c.Ho + c.tileRows - 1) / c.tileRows
	return c
}

// setTileRows changes the band height (tests use it to exercise bands).
func (c *Conv2D) setTileRows(r int) {
	if c.wino4 || (c.tconv != nil && c.tconv.wU != nil && c.tconv.wino4) {
		r = (r + 3) &^ 3 // F(4×4) bands hold whole 4×4 tiles
	} else if c.wU != nil || (c.tconv != nil && c.tconv.wU != nil) {
		r += r % 2 // Winograd bands hold whole 2×2 tiles
	}
	c.tileRows = max(1, min(c.Ho, r))
	c.nb = (c.Ho + c.tileRows - 1) / c.tileRows
	if c.tconv != nil {
		c.tconv.tileRows, c.tconv.nb = c.tileRows, c.nb
	}
}

// Init sets the weights by VarianceScaling with the given scale and zeroes
// the bias (NCSN++ default_init).
func (c *Conv2D) Init(scale float64, rng *rand.Rand) {
	VarianceScaling(c.Weight.Data, c.Cin*c.K*c.K, c.Cout*c.K*c.K, scale, rng)
	clear(c.Bias.Data)
}

// Params returns Weight and Bias.
func (c *Conv2D) Params() []*Param { return []*Param{c.Weight, c.Bias} }

// Flops returns the multiply-add count ×2 of one image's forward pass.
func (c *Conv2D) Flops() int64 {
	return 2 * int64(c.Cout) * int64(c.Cin*c.K*c.K) * int64(c.Ho*c.Wo)
}

// Forward implements Layer.
func (c *Conv2D) Forward(x []float32, n int) []float32 {
	c.x, c.n = x, n
	c.extra, c.Extra = c.Extra, nil
	c.resid, c.rscale, c.Residual, c.ResidualScale = c.Residual, c.ResidualScale, nil, 0
	if c.resid != nil && len(c.resid) < n*c.Cout*c.Ho*c.Wo {
		panic("nn: Conv2D.Residual shorter than the output") // programming error
	}
	c.y = grow(c.y, n*c.Cout*c.Ho*c.Wo)
	if c.wU != nil && !(c.e.cacheWeights() && c.wUGen == c.e.gen) {
		c.winoWeights()
		c.wUGen = c.e.gen // reused while in this inference-mode or fixed-weights period
	}
	c.fRows, c.fNb = c.tileRows, c.nb
	if c.wU != nil && !c.wino4 && c.Ho*c.Wo <= oneBandMaxPixels && n >= c.e.workers {
		c.fRows, c.fNb = c.Ho, 1
	}
	c.e.RunDynamic(n*c.fNb, c.fwd)
	return c.y
}

// oneBandMaxPixels is the largest image whose F(2×2) Winograd forward
// runs one band per image (tile count T = H·W/4) instead of the usual two
// when the batch has at least one image per worker: at 8×8 two bands leave
// GEMMs of N = 8 columns, where the kernel has only four accumulator
// chains and is latency bound (one band: 160 → 69 µs of one-thread CPU for
// a 64→64 layer at batch 2, with bt4Tile4AVX; at 16×16 one band was no
// faster). Each output element is computed by the same operations whatever
// the band (per-tile transforms, a GEMM whose sums run over channels in
// order), so outputs do not change; the backward pass keeps the fixed
// split, since its weight-gradient sums run over a band's tiles.
const oneBandMaxPixels = 8 * 8

// band returns the image and output rows [r0, r1) of backward task t.
func (c *Conv2D) band(t int) (i, r0, r1 int) {
	i, b := t/c.nb, t%c.nb
	r0 = b * c.tileRows
	return i, r0, min(c.Ho, r0+c.tileRows)
}

// fband returns the image and output rows [r0, r1) of forward task t.
func (c *Conv2D) fband(t int) (i, r0, r1 int) {
	i, b := t/c.fNb, t%c.fNb
	r0 = b * c.fRows
	return i, r0, min(c.Ho, r0+c.fRows)
}

func (c *Conv2D) forwardOne(w, t int) {
	if c.forwardBand(w, t) || c.resid == nil {
		return
	}
	i, r0, r1 := c.fband(t)
	P := c.Ho * c.Wo
	for o := 0; o < c.Cout; o++ {
		lo, hi := (i*c.Cout+o)*P+r0*c.Wo, (i*c.Cout+o)*P+r1*c.Wo
		addScale(c.y[lo:hi], c.resid[lo:hi], c.rscale)
	}
}

// forwardBand computes output rows [r0, r1) of image i for task t; it
// reports whether it applied c.resid too.
func (c *Conv2D) forwardBand(w, t int) bool {
	i, r0, r1 := c.fband(t)
	if c.wU != nil {
		return c.winoForward(w, i, r0, r1)
	}
	P := c.Ho * c.Wo
	T := (r1 - r0) * c.Wo
	ckk := c.Cin * c.K * c.K
	x := c.x[i*c.Cin*c.H*c.W : (i+1)*c.Cin*c.H*c.W]
	y := c.y[i*c.Cout*P : (i+1)*c.Cout*P]
	if c.extra == nil {
		fillCols(y, c.Bias.Data, P, r0*c.Wo, r1*c.Wo)
	} else {
		for o, b := range c.Bias.Data {
			fill(y[o*P+r0*c.Wo:o*P+r1*c.Wo], b+c.extra[i*c.Cout+o])
		}
	}
	g := c.e.gemm
	if c.direct {
		g.Sgemm(false, false, c.Cout, T, c.Cin, 1, c.Weight.Data, c.Cin, x[r0*c.Wo:], P, 1, y[r0*c.Wo:], P)
		return false
	}
	col := c.e.scratch(w, 0, ckk*T)
	c.im2col(x, col, r0, r1)
	g.Sgemm(false, false, c.Cout, T, ckk, 1, c.Weight.Data, ckk, col, T, 1, y[r0*c.Wo:], P)
	return false
}

// Backward implements Layer.
func (c *Conv2D) Backward(dout []float32) []float32 {
	c.dy = dout
	c.dx = grow(c.dx, c.n*c.Cin*c.H*c.W)
	cached := c.e.cacheWeights() && c.flipGen == c.e.gen
	if c.flip && !cached {
		kk := c.K * c.K
		for o := 0; o < c.Cout; o++ {
			for ci := 0; ci < c.Cin; ci++ {
				src := c.Weight.Data[(o*c.Cin+ci)*kk : (o*c.Cin+ci+1)*kk]
				dst := c.wflip[(ci*c.Cout+o)*kk : (ci*c.Cout+o+1)*kk]
				for j := range dst {
					dst[j] = src[kk-1-j]
				}
			}
		}
	}
	if t := c.tconv; t != nil && t.wU != nil {
		if !cached {
			t.winoWeights()
		}
		t.x, t.y = c.dy, c.dx
	}
	if c.flip {
		c.flipGen = c.e.gen // wflip and tconv.wU reused while the engine caches weights
	}
	tasks := c.n * c.nb
	if !c.direct && !c.flip {
		tasks = c.n
	}
	u := c.e.used(tasks)
	pg := c.e.ParamGrads()
	if pg {
		if c.wU == nil {
			c.gw.zero(u)
		}
		c.gb.zero(u)
		if c.wU != nil {
			for w := 0; w < u; w++ {
				clear(c.gU[w])
			}
		}
	}
	c.e.runBackward(tasks, c.bwd)
	if pg {
		if c.wU != nil {
			c.foldUsed = u
			c.e.RunDynamic((c.Cout*c.Cin+foldChunk-1)/foldChunk, c.fold)
		} else {
			c.gw.reduce(u)
		}
		c.gb.reduce(u)
	}
	return c.dx
}

// backwardBand handles one band of output rows; bands of an image write
// disjoint rows of dx (direct or flip only).
func (c *Conv2D) backwardBand(w, t int) {
	i, r0, r1 := c.band(t)
	P := c.Ho * c.Wo
	T := (r1 - r0) * c.Wo
	ckk := c.Cin * c.K * c.K
	x := c.x[i*c.Cin*c.H*c.W : (i+1)*c.Cin*c.H*c.W]
	dx := c.dx[i*c.Cin*c.H*c.W : (i+1)*c.Cin*c.H*c.W]
	dy := c.dy[i*c.Cout*P : (i+1)*c.Cout*P]
	pg := c.e.ParamGrads()
	gw := c.gw.bufs[w]
	if pg && c.wU == nil { // winoGradBand sums the bias gradient from its tiles
		addRowSums(c.gb.bufs[w], dy, P, r0*c.Wo, r1*c.Wo, 1)
	}
	g := c.e.gemm
	off := r0 * c.Wo
	if c.direct {
		if pg {
			g.Sgemm(false, true, c.Cout, c.Cin, T, 1, dy[off:], P, x[off:], P, 1, gw, c.Cin)
		}
		g.Sgemm(true, false, c.Cin, T, c.Cout, 1, c.Weight.Data, c.Cin, dy[off:], P, 0, dx[off:], P)
		return
	}
	switch {
	case !pg:
	case c.wU != nil && c.wino4:
		c.wino4GradBand(w, i, r0, r1, c.gU[w])
	case c.wU != nil:
		c.winoGradBand(w, i, r0, r1, c.gU[w])
	default:
		col := c.e.scratch(w, 0, ckk*T)
		c.im2col(x, col, r0, r1)
		g.Sgemm(false, true, c.Cout, ckk, T, 1, dy[off:], P, col, T, 1, gw, ckk)
	}
	if c.tconv.wU != nil {
		c.tconv.winoForward(w, i, r0, r1) // overwrites scratch, col is done
		return
	}
	okk := c.Cout * c.K * c.K
	dcol := c.e.scratch(w, 1, okk*T)
	c.tconv.im2col(dy, dcol, r0, r1)
	g.Sgemm(false, false, c.Cin, T, okk, 1, c.wflip, okk, dcol, T, 0, dx[off:], c.H*c.W)
}

// backwardImage handles a whole image with col2im (strided convolutions).
func (c *Conv2D) backwardImage(w, i int) {
	P := c.Ho * c.Wo
	ckk := c.Cin * c.K * c.K
	x := c.x[i*c.Cin*c.H*c.W : (i+1)*c.Cin*c.H*c.W]
	dx := c.dx[i*c.Cin*c.H*c.W : (i+1)*c.Cin*c.H*c.W]
	dy := c.dy[i*c.Cout*P : (i+1)*c.Cout*P]
	pg := c.e.ParamGrads()
	if pg {
		addRowSums(c.gb.bufs[w], dy, P, 0, P, 1)
	}
	gw := c.gw.bufs[w]
	g := c.e.gemm
	clear(dx)
	for r0 := 0; r0 < c.Ho; r0 += c.tileRows {
		r1 := min(c.Ho, r0+c.tileRows)
		T := (r1 - r0) * c.Wo
		dcol := c.e.scratch(w, 1, ckk*T)
		if pg {
			col := c.e.scratch(w, 0, ckk*T)
			c.im2col(x, col, r0, r1)
			g.Sgemm(false, true, c.Cout, ckk, T, 1, dy[r0*c.Wo:], P, col, T, 1, gw, ckk)
		}
		g.Sgemm(true, false, ckk, T, c.Cout, 1, c.Weight.Data, ckk, dy[r0*c.Wo:], P, 0, dcol, T)
		c.col2im(dcol, dx, r0, r1)
	}
}

// oxRange returns the output columns [lo, hi) whose input column
// S·ox − P + kx lies inside the image.
func (c *Conv2D) oxRange(kx int) (lo, hi int) {
	s := c.Stride
	if d := c.Pad - kx; d > 0 {
		lo = (d + s - 1) / s
	}
	num := c.W - 1 + c.Pad - kx
	if num < 0 {
		return 0, 0
	}
	hi = min(c.Wo, num/s+1)
	lo = min(lo, hi)
	return lo, hi
}

// im2col writes rows (c,u,v) × columns (output pixels of rows [r0,r1)).
func (c *Conv2D) im2col(x, col []float32, r0, r1 int) {
	T := (r1 - r0) * c.Wo
	s, hw := c.Stride, c.H*c.W
	if c.K == 3 && c.Pad == 1 && s == 2 && c.W == 2*c.Wo {
		c.im2colS2(x, col, r0, r1)
		return
	}
	r := 0
	for ci := 0; ci < c.Cin; ci++ {
		xc := x[ci*hw : (ci+1)*hw]
		for ky := 0; ky < c.K; ky++ {
			for kx := 0; kx < c.K; kx++ {
				row := col[r*T : (r+1)*T]
				r++
				lo, hi := c.oxRange(kx)
				off := kx - c.Pad
				for oy := r0; oy < r1; oy++ {
					dst := row[(oy-r0)*c.Wo : (oy-r0+1)*c.Wo]
					iy := oy*s - c.Pad + ky
					if iy < 0 || iy >= c.H {
						clear(dst)
						continue
					}
					src := xc[iy*c.W : (iy+1)*c.W]
					clear(dst[:lo])
					clear(dst[hi:])
					if s == 1 {
						copy(dst[lo:hi], src[lo+off:hi+off])
					} else if s == 2 {
						d := dst[lo:hi]
						sv := src[2*lo+off : 2*(hi-1)+off+1]
						for j := range d {
							d[j] = sv[2*j]
						}
					} else {
						for ox := lo; ox < hi; ox++ {
							dst[ox] = src[ox*s+off]
						}
					}
				}
			}
		}
	}
}

// im2colS2 is im2col for the 3×3, stride-2, pad-1 convolution of an image
// of even width: the input row iy = 2·oy − 1 + ky is deinterleaved once
// into the kx = 1 (even columns, x[2·ox]) and kx = 2 (odd columns,
// x[2·ox + 1]) rows of col, and the kx = 0 row (x[2·ox − 1]) is the odd
// columns shifted by one with a zero at ox = 0.
func (c *Conv2D) im2colS2(x, col []float32, r0, r1 int) {
	T := (r1 - r0) * c.Wo
	hw, wo := c.H*c.W, c.Wo
	r := 0
	for ci := 0; ci < c.Cin; ci++ {
		xc := x[ci*hw : (ci+1)*hw]
		for ky := 0; ky < 3; ky++ {
			row0 := col[r*T : (r+1)*T]
			row1 := col[(r+1)*T : (r+2)*T]
			row2 := col[(r+2)*T : (r+3)*T]
			r += 3
			for oy := r0; oy < r1; oy++ {
				o := (oy - r0) * wo
				d0, d1, d2 := row0[o:o+wo], row1[o:o+wo], row2[o:o+wo]
				iy := 2*oy - 1 + ky
				if iy < 0 || iy >= c.H {
					clear(d0)
					clear(d1)
					clear(d2)
					continue
				}
				deint(xc[iy*c.W:(iy+1)*c.W], d1, d2)
				d0[0] = 0
				copy(d0[1:], d2[:wo-1])
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds col entries into dx.
func (c *Conv2D) col2im(col, dx []float32, r0, r1 int) {
	T := (r1 - r0) * c.Wo
	s, hw := c.Stride, c.H*c.W
	r := 0
	for ci := 0; ci < c.Cin; ci++ {
		xc := dx[ci*hw : (ci+1)*hw]
		for ky := 0; ky < c.K; ky++ {
			for kx := 0; kx < c.K; kx++ {
				row := col[r*T : (r+1)*T]
				r++
				lo, hi := c.oxRange(kx)
				off := kx - c.Pad
				for oy := r0; oy < r1; oy++ {
					iy := oy*s - c.Pad + ky
					if iy < 0 || iy >= c.H {
						continue
					}
					src := row[(oy-r0)*c.Wo : (oy-r0+1)*c.Wo]
					dst := xc[iy*c.W : (iy+1)*c.W]
					if s == 1 {
						d := dst[lo+off : hi+off]
						for j, v := range src[lo:hi] {
							d[j] += v
						}
					} else {
						for ox := lo; ox < hi; ox++ {
							dst[ox*s+off] += src[ox]
						}
					}
				}
			}
		}
	}
}
