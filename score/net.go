package score

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/lenscore/lenscore/nn"
)

// block is one step of the U-Net taking the time embedding t (after SiLU).
type block interface {
	forward(x, t []float32, n int) []float32
	backward(dy, dt []float32) []float32
	flops() int64
}

type resBlock struct{ *nn.ResBlock }

func (b resBlock) forward(x, t []float32, n int) []float32 { return b.ResBlock.Forward(x, t, n) }
func (b resBlock) backward(dy, dt []float32) []float32     { return b.ResBlock.Backward(dy, dt) }
func (b resBlock) flops() int64                            { return b.ResBlock.Flops() }

type attnBlock struct{ *nn.AttnBlock }

func (b attnBlock) forward(x, _ []float32, n int) []float32 { return b.AttnBlock.Forward(x, n) }
func (b attnBlock) backward(dy, _ []float32) []float32      { return b.AttnBlock.Backward(dy) }
func (b attnBlock) flops() int64                            { return b.AttnBlock.Flops() }

type convBlock struct{ *nn.Conv2D }

func (b convBlock) forward(x, _ []float32, n int) []float32 { return b.Conv2D.Forward(x, n) }
func (b convBlock) backward(dy, _ []float32) []float32      { return b.Conv2D.Backward(dy) }
func (b convBlock) flops() int64                            { return b.Conv2D.Flops() }

type upBlock struct{ *nn.Upsample }

func (b upBlock) forward(x, _ []float32, n int) []float32 { return b.Upsample.Forward(x, n) }
func (b upBlock) backward(dy, _ []float32) []float32      { return b.Upsample.Backward(dy) }
func (b upBlock) flops() int64                            { return b.Upsample.Conv.Flops() }

// upUnit concatenates the running tensor with skip tensor hs[skip], then
// runs its blocks.
type upUnit struct {
	cat    *nn.Concat
	skip   int
	blocks []block
}

// Net is the NCSN++-style noise-prediction U-Net ε_θ(x, σ); see the package
// documentation. It is not safe for concurrent use.
type Net struct {
	cfg    Config
	e      *nn.Engine
	params []*nn.Param

	fourier        *nn.Fourier
	dense0, dense1 *nn.Linear
	act0, act1     *nn.SiLU
	convIn         *nn.Conv2D
	down           [][]block // down[j] produces hs[j+1]; hs[0] is convIn's output
	mid            []block
	up             []upUnit
	outNorm        *nn.GroupNorm
	outConv        *nn.Conv2D

	pp *ppNet // score_models' NCSNpp (Arch == ArchNCSNpp), see ncsnpp.go
	// condT: the sigma argument of forward holds NCSNpp's time t itself
	// (ForwardTime).
	condT bool

	n        int
	inferFwd bool      // the last Forward ran in inference mode
	out      []float32 // output of a chunked inference-mode Forward
	xbuf     []float32
	logs     []float32
	hs       [][]float32
	hsSize   []int // per-image size of hs[j]
	dhs      [][]float32
	dt       []float32
	dx       []float32
	flopsImg int64
}

// New builds the network for cfg with NCSN++ initialisation drawn from seed
// (nn.VarianceScaling; see package nn), multiplying with g.
func New(cfg Config, g nn.Gemm, seed uint64) (*Net, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, fmt.Errorf("score: New: nil Gemm")
	}
	cfg = cfg.clone()
	nt := &Net{cfg: cfg}
	if cfg.Arch == ArchNCSNpp { // Validate checked its GroupNorm widths
		nt.e = nn.NewEngine(g, cfg.Workers)
		nt.buildNCSNpp(nn.NewRand(seed))
		return nt, nil
	}
	// Check every GroupNorm width before building anything.
	if err := nt.walk(func(name string, c int) error {
		if c%nn.Groups(c) != 0 {
			return fmt.Errorf("score: config gives %d channels at %s, not divisible into min(C/4, 32) = %d groups", c, name, nn.Groups(c))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	nt.e = nn.NewEngine(g, cfg.Workers)
	nt.build(nn.NewRand(seed))
	return nt, nil
}

// walk calls check for the input width of every group normalisation the
// architecture has, without building it.
func (nt *Net) walk(check func(name string, c int) error) error {
	cfg := nt.cfg
	nf := cfg.NF
	hs := []int{nf}
	in := nf
	for i, m := range cfg.ChMult {
		for r := 0; r < cfg.NumResBlocks; r++ {
			if err := check(fmt.Sprintf("down.%d.res.%d", i, r), in); err != nil {
				return err
			}
			in = nf * m
			if err := check(fmt.Sprintf("down.%d.res.%d", i, r), in); err != nil {
				return err
			}
			hs = append(hs, in)
		}
		if i != len(cfg.ChMult)-1 {
			hs = append(hs, in)
		}
	}
	for i := len(cfg.ChMult) - 1; i >= 0; i-- {
		for r := 0; r <= cfg.NumResBlocks; r++ {
			c := in + hs[len(hs)-1]
			hs = hs[:len(hs)-1]
			if err := check(fmt.Sprintf("up.%d.res.%d", i, r), c); err != nil {
				return err
			}
			in = nf * cfg.ChMult[i]
		}
	}
	return nil
}

func (nt *Net) hasAttn(res int) bool { return slices.Contains(nt.cfg.AttnResolutions, res) }

func (nt *Net) build(rng *rand.Rand) {
	cfg, e := nt.cfg, nt.e
	nf, td, S := cfg.NF, cfg.TembDim(), cfg.ImageSize
	add := func(ps ...*nn.Param) { nt.params = append(nt.params, ps...) }

	nt.fourier = nn.NewFourier("temb.fourier", nf)
	nt.fourier.Init(cfg.FourierScale, rng)
	nt.dense0 = nn.NewLinear(e, "temb.dense0", 2*nf, td)
	nt.dense0.Init(1, rng)
	nt.act0 = nn.NewSiLU(td)
	nt.dense1 = nn.NewLinear(e, "temb.dense1", td, td)
	nt.dense1.Init(1, rng)
	nt.act1 = nn.NewSiLU(td)
	add(nt.fourier.Params()...)
	add(nt.dense0.Params()...)
	add(nt.dense1.Params()...)

	nt.convIn = nn.NewConv2D(e, "conv_in", cfg.Channels, nf, S, S, 3, 1, 1)
	nt.convIn.Init(1, rng)
	add(nt.convIn.Params()...)
	nt.flopsImg = nt.convIn.Flops()
	nt.hsSize = []int{nf * S * S}
	hsC := []int{nf}

	res, in := S, nf
	newRes := func(name string, cin, cout int) block {
		b := nn.NewResBlock(e, name, cin, cout, res, res, td)
		b.Init(0, rng)
		add(b.Params()...)
		return resBlock{b}
	}
	newAttn := func(name string, c int) block {
		a := nn.NewAttnBlock(e, name, c, res, res)
		a.Init(0, rng)
		add(a.Params()...)
		return attnBlock{a}
	}
	for i, m := range cfg.ChMult {
		for r := 0; r < cfg.NumResBlocks; r++ {
			out := nf * m
			unit := []block{newRes(fmt.Sprintf("down.%d.res.%d", i, r), in, out)}
			in = out
			if nt.hasAttn(res) {
				unit = append(unit, newAttn(fmt.Sprintf("down.%d.attn.%d", i, r), in))
			}
			nt.down = append(nt.down, unit)
			nt.hsSize = append(nt.hsSize, in*res*res)
			hsC = append(hsC, in)
		}
		if i != len(cfg.ChMult)-1 {
			d := nn.NewDownsample(e, fmt.Sprintf("down.%d.downsample", i), in, in, res, res)
			d.Init(1, rng)
			add(d.Params()...)
			res /= 2
			nt.down = append(nt.down, []block{convBlock{d}})
			nt.hsSize = append(nt.hsSize, in*res*res)
			hsC = append(hsC, in)
		}
	}
	nt.mid = []block{newRes("mid.res.0", in, in), newAttn("mid.attn", in), newRes("mid.res.1", in, in)}

	for i := len(cfg.ChMult) - 1; i >= 0; i-- {
		for r := 0; r <= cfg.NumResBlocks; r++ {
			skip := len(hsC) - 1
			sc := hsC[skip]
			hsC = hsC[:skip]
			out := nf * cfg.ChMult[i]
			u := upUnit{cat: nn.NewConcat(e, in, sc, res*res), skip: skip}
			u.blocks = []block{newRes(fmt.Sprintf("up.%d.res.%d", i, r), in+sc, out)}
			in = out
			nt.up = append(nt.up, u)
		}
		last := &nt.up[len(nt.up)-1]
		if nt.hasAttn(res) {
			last.blocks = append(last.blocks, newAttn(fmt.Sprintf("up.%d.attn", i), in))
		}
		if i != 0 {
			u := nn.NewUpsample(e, fmt.Sprintf("up.%d.upsample", i), in, in, res, res)
			u.Init(1, rng)
			add(u.Params()...)
			last.blocks = append(last.blocks, upBlock{u})
			res *= 2
		}
	}
	nt.outNorm = nn.NewGroupNorm(e, "out.norm", in, S*S, nn.Groups(in), true)
	nt.outConv = nn.NewConv2D(e, "out.conv", in, cfg.Channels, S, S, 3, 1, 1)
	nt.outConv.Init(0, rng)
	add(nt.outNorm.Params()...)
	add(nt.outConv.Params()...)

	for _, u := range nt.down {
		for _, b := range u {
			nt.flopsImg += b.flops()
		}
	}
	for _, b := range nt.mid {
		nt.flopsImg += b.flops()
	}
	for _, u := range nt.up {
		for _, b := range u.blocks {
			nt.flopsImg += b.flops()
		}
	}
	nt.flopsImg += nt.outConv.Flops()
	nt.hs = make([][]float32, len(nt.hsSize))
	nt.dhs = make([][]float32, len(nt.hsSize))
}

// Params returns every parameter in a fixed order with unique names. The
// first, "temb.fourier.W" ("all_modules.0.W" for an NCSNpp), holds the
// fixed Fourier frequencies: it is saved with the weights but never
// trained (its Grad stays zero; do not apply weight decay to it).
func (nt *Net) Params() []*nn.Param { return nt.params }

// NumParams returns the total number of parameter values (including the
// fixed Fourier frequencies).
func (nt *Net) NumParams() int {
	s := 0
	for _, p := range nt.params {
		s += p.Size()
	}
	return s
}

// Workers returns the number of goroutines the network splits a batch
// among. Gradients depend on it (float32 per-worker sums); train records it.
func (nt *Net) Workers() int { return nt.e.Workers() }

// Config returns a copy of the configuration.
func (nt *Net) Config() Config { return nt.cfg.clone() }

// Gemm returns the matrix-multiply back-end.
func (nt *Net) Gemm() nn.Gemm { return nt.e.Gemm() }

// Flops returns the floating-point operations of one image's forward pass
// counted analytically over convolutions, attention GEMMs and the time MLP
// (elementwise work is not counted).
func (nt *Net) Flops() int64 {
	td, in := int64(nt.cfg.TembDim()), 2*int64(nt.cfg.NF)
	if nt.pp != nil {
		in = int64(nt.cfg.NF)
	}
	return nt.flopsImg + 2*td*(in+td)
}

// Close stops the worker goroutines; the Net must not be used afterwards.
func (nt *Net) Close() { nt.e.Close() }

// Forward returns ε_θ(x, σ) for batch images x (batch×C×H×W) and noise
// levels sigma (one per image, > 0). The result is an internal buffer valid
// until the next call; the score is ε/σ. Activations are kept for Backward.
func (nt *Net) Forward(x, sigma []float32, batch int) []float32 {
	cfg := nt.cfg
	sz := cfg.Channels * cfg.ImageSize * cfg.ImageSize
	if batch < 1 || len(x) < batch*sz || len(sigma) < batch {
		panic(fmt.Sprintf("score: Forward: batch %d needs len(x) ≥ %d and len(sigma) ≥ %d, got %d and %d", batch, batch*sz, batch, len(x), len(sigma)))
	}
	nt.n = batch
	nt.inferFwd = nt.e.Inference()
	if c := nt.inferChunk(); nt.inferFwd && batch > c {
		// Inference keeps nothing for Backward, so the batch can go through
		// the network a few images at a time: their activations then stay
		// in cache between layers. Outputs do not depend on the batch.
		nt.out = grow(nt.out, batch*sz)
		for k0 := 0; k0 < batch; k0 += c {
			b := min(c, batch-k0)
			copy(nt.out[k0*sz:], nt.forward(x[k0*sz:(k0+b)*sz], sigma[k0:k0+b], b))
		}
		return nt.out
	}
	return nt.forward(x, sigma, batch)
}

// inferChunk is the number of images an inference-mode Forward sends
// through the network together: one per worker.
func (nt *Net) inferChunk() int { return max(1, nt.e.Workers()) }

func (nt *Net) forward(x, sigma []float32, batch int) []float32 {
	sz := nt.cfg.Channels * nt.cfg.ImageSize * nt.cfg.ImageSize
	nt.xbuf = grow(nt.xbuf, batch*sz)
	copy(nt.xbuf, x)
	nt.logs = grow(nt.logs, batch)
	switch {
	case nt.condT:
		copy(nt.logs, sigma[:batch])
	case nt.pp != nil:
		nt.pp.condition(nt.logs, sigma, nt.cfg.NCSNpp.SigmaMin)
	default:
		for i := range nt.logs {
			nt.logs[i] = float32(math.Log(float64(sigma[i])))
		}
	}
	t := nt.act1.Forward(nt.dense1.Forward(nt.act0.Forward(nt.dense0.Forward(nt.fourier.Forward(nt.logs, batch), batch), batch), batch), batch)

	if nt.pp != nil {
		return nt.pp.forward(nt, nt.xbuf, t, batch)
	}
	h := nt.convIn.Forward(nt.xbuf, batch)
	nt.hs[0] = h
	for j, unit := range nt.down {
		for _, b := range unit {
			h = b.forward(h, t, batch)
		}
		nt.hs[j+1] = h
	}
	for _, b := range nt.mid {
		h = b.forward(h, t, batch)
	}
	for _, u := range nt.up {
		h = u.cat.Forward(h, nt.hs[u.skip], batch)
		for _, b := range u.blocks {
			h = b.forward(h, t, batch)
		}
	}
	return nt.outConv.Forward(nt.outNorm.Forward(h, batch), batch)
}

// SetInference switches the network to inference mode (on) or back to
// training mode (off, the default). In inference mode Forward gives the
// same output bit for bit but does not keep the normalised activations and
// SiLU gates that Backward needs, which saves memory traffic when sampling;
// Backward panics until the next training-mode Forward. While inference
// mode is on, transformed weights are kept between calls: after changing
// Params()[i].Data, call SetInference(true) again.
func (nt *Net) SetInference(on bool) { nt.e.SetInference(on) }

// SetWeightsFixed(true) promises that Params()[i].Data will not change
// until the next SetWeightsFixed or SetInference call; training-mode
// Forward and Backward then keep their transformed weights between calls
// as inference mode does (nn.Engine.SetWeightsFixed), for repeated
// input-gradient back-propagations of a trained network. Outputs and
// gradients are unchanged bit for bit.
func (nt *Net) SetWeightsFixed(on bool) { nt.e.SetWeightsFixed(on) }

// Backward accumulates dL/dθ into Params()[i].Grad for the loss whose
// gradient with respect to the last Forward's output is dout.
func (nt *Net) Backward(dout []float32) {
	if nt.inferFwd {
		panic("score: Backward after an inference-mode Forward (see SetInference)")
	}
	n := nt.n
	nt.dt = grow(nt.dt, n*nt.cfg.TembDim())
	clear(nt.dt)
	if nt.pp != nil {
		nt.dx = nt.pp.backward(nt, dout, nt.dt)
		if nt.e.ParamGrads() {
			nt.dense0.Backward(nt.act0.Backward(nt.dense1.Backward(nt.act1.Backward(nt.dt))))
		}
		return
	}
	for j := range nt.dhs {
		nt.dhs[j] = grow(nt.dhs[j], n*nt.hsSize[j])
		clear(nt.dhs[j])
	}
	g := nt.outNorm.Backward(nt.outConv.Backward(dout))
	for k := len(nt.up) - 1; k >= 0; k-- {
		u := nt.up[k]
		for b := len(u.blocks) - 1; b >= 0; b-- {
			g = u.blocks[b].backward(g, nt.dt)
		}
		dh, ds := u.cat.Backward(g)
		nt.e.AddTo(nt.dhs[u.skip], ds, 1)
		g = dh
	}
	for b := len(nt.mid) - 1; b >= 0; b-- {
		g = nt.mid[b].backward(g, nt.dt)
	}
	for j := len(nt.down) - 1; j >= 0; j-- {
		nt.e.AddTo(g, nt.dhs[j+1], 1)
		unit := nt.down[j]
		for b := len(unit) - 1; b >= 0; b-- {
			g = unit[b].backward(g, nt.dt)
		}
	}
	nt.e.AddTo(g, nt.dhs[0], 1)
	nt.dx = nt.convIn.Backward(g)
	if nt.e.ParamGrads() { // dL/dt feeds only the time embedding's parameters
		nt.dense0.Backward(nt.act0.Backward(nt.dense1.Backward(nt.act1.Backward(nt.dt))))
	}
}

// SetParamGrads switches parameter gradients off (or back on, the
// default): Backward then computes only InputGrad, the same values, and
// leaves Params()[i].Grad as they were (nn.Engine.SetParamGrads) — a
// vector–Jacobian product with respect to the input at about two thirds of
// the cost.
func (nt *Net) SetParamGrads(on bool) { nt.e.SetParamGrads(on) }

// InputGrad returns dL/dx of the last Backward (batch×C×H×W, an internal
// buffer valid until the next Backward).
func (nt *Net) InputGrad() []float32 { return nt.dx }

func addTo(dst, src []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] += v
	}
}

func grow(b []float32, n int) []float32 {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]float32, n)
}

// ZeroGrad clears the gradients of every parameter.
func (nt *Net) ZeroGrad() {
	for _, p := range nt.params {
		p.ZeroGrad()
	}
}
