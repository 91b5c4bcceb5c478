package score

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/lenscore/lenscore/nn"
)

// score_models' NCSNpp (Adam et al.'s score_models package, after Song et
// al. 2021) as a configuration of Net (Config.Arch = ArchNCSNpp), output
// for output, with resblock_type "biggan", progressive "output_skip",
// progressive_input "input_skip" and combine_method "sum":
//
//	t = ln(σ/σ_min)/ln(σ_max/σ_min)
//	Fourier(t; nf/2 frequencies) → Dense nf→4nf → SiLU → Dense 4nf→4nf → SiLU = temb
//	h = Conv3×3(x) → hs;  pyramid p = x
//	per level i:  num_res_blocks × Res(h, temb) → hs
//	              (not the last) h = ResDown(h) (FIR down inside the block),
//	              p = FIR↓(p),  h = Conv1×1(p) + h → hs
//	middle:       Res, [SelfAttention], Res
//	per level i from the coarsest: (num_res_blocks+1) × Res(concat(h, hs.pop()))
//	              out = Conv3×3(SiLU(GroupNorm(h))) (+ FIR↑(out) below the coarsest level)
//	              (i ≠ 0) h = ResUp(h) (FIR up inside the block)
//	ε = out
//
// Res is the BigGAN block (nn.ResBlock; ResDown/ResUp nn.ResampleBlock, with a
// 1×1 skip convolution) whose sum is divided by √2 when skip_rescale is
// set; SelfAttention is nn.NewSelfAttention (no normalisation, residual not
// rescaled). Parameters are named by their score_models state-dict keys.
// score_models' score is model(t, x)/σ(t), the convention of Net.Forward.

// ppDown is one step of the down path: it turns hs[j] into hs[j+1].
type ppDown struct {
	res     *nn.ResBlock      // a residual block, or
	down    *nn.ResampleBlock // a down-sampling block with
	pyr     *nn.FIR           // the pyramid's down-sampler and
	combine *nn.Conv2D        // its 1×1 projection added to the block's output
}

// ppUp is one resolution level of the up path.
type ppUp struct {
	cats  []*nn.Concat
	res   []*nn.ResBlock
	norm  *nn.GroupNorm
	conv  *nn.Conv2D
	pyrUp *nn.FIR           // nil at the coarsest level
	upRes *nn.ResampleBlock // nil at level 0
}

type ppNet struct {
	down       []ppDown
	mid0, mid1 *nn.ResBlock
	attn       *nn.AttnBlock
	up         []ppUp
	logRatio   float64

	hs     [][]float32
	pyrs   [][]float32 // pyramid input of each down step (nil for res steps)
	dhs    [][]float32
	hsSize []int
	dpyr   []float32
	dx     []float32
	n      int
}

func (nt *Net) buildNCSNpp(rng *rand.Rand) {
	cfg, e := nt.cfg, nt.e
	pc := cfg.NCSNpp
	nf, td, S, C := cfg.NF, cfg.TembDim(), cfg.ImageSize, cfg.Channels
	pp := &ppNet{logRatio: math.Log(pc.SigmaMax / pc.SigmaMin)}
	nt.pp = pp
	k := 0
	mod := func() string { s := fmt.Sprintf("all_modules.%d", k); k++; return s }
	add := func(ps ...*nn.Param) { nt.params = append(nt.params, ps...) }
	scale := float32(1)
	if pc.SkipRescale {
		scale = math.Sqrt2 / 2
	}
	rename := func(m string, ps []*nn.Param, names ...string) {
		for i, p := range ps {
			p.Name = m + "." + names[i]
		}
		add(ps...)
	}
	resNames := []string{"GroupNorm_0.weight", "GroupNorm_0.bias", "Conv_0.conv.weight", "Conv_0.conv.bias",
		"Dense_0.weight", "Dense_0.bias", "GroupNorm_1.weight", "GroupNorm_1.bias", "Conv_1.conv.weight", "Conv_1.conv.bias",
		"Conv_2.conv.weight", "Conv_2.conv.bias"}
	res := 0
	newRes := func(cin, cout int) *nn.ResBlock {
		m := mod()
		b := nn.NewResBlock(e, m, cin, cout, res, res, td)
		b.Init(0, rng)
		b.OutScale = scale
		rename(m, b.Params(), resNames...)
		return b
	}
	newResample := func(c int, up bool) *nn.ResampleBlock {
		m := mod()
		b := nn.NewResampleBlock(e, m, c, c, res, res, td, pc.FIRKernel, up)
		b.OutScale = scale
		for _, cv := range []*nn.Conv2D{b.Conv0, b.Skip} {
			cv.Init(1, rng)
		}
		b.Dense.Init(1, rng)
		b.Conv1.Init(0, rng)
		rename(m, b.Params(), resNames...)
		return b
	}

	nt.fourier = nn.NewFourier("", nf/2)
	nt.fourier.Init(cfg.FourierScale, rng)
	rename(mod(), nt.fourier.Params(), "W")
	nt.dense0 = nn.NewLinear(e, "", nf, td)
	nt.dense0.Init(1, rng)
	rename(mod(), nt.dense0.Params(), "weight", "bias")
	nt.act0 = nn.NewSiLU(td)
	nt.dense1 = nn.NewLinear(e, "", td, td)
	nt.dense1.Init(1, rng)
	rename(mod(), nt.dense1.Params(), "weight", "bias")
	nt.act1 = nn.NewSiLU(td)

	res = S
	nt.convIn = nn.NewConv2D(e, "", C, nf, S, S, 3, 1, 1)
	nt.convIn.Init(1, rng)
	rename(mod(), nt.convIn.Params(), "conv.weight", "conv.bias")
	nt.flopsImg = nt.convIn.Flops()
	pp.hsSize = []int{nf * S * S}
	hsC := []int{nf}
	in := nf
	L := len(cfg.ChMult)
	for i, m := range cfg.ChMult {
		for range cfg.NumResBlocks {
			out := nf * m
			pp.down = append(pp.down, ppDown{res: newRes(in, out)})
			in = out
			pp.hsSize = append(pp.hsSize, in*res*res)
			hsC = append(hsC, in)
		}
		if i != L-1 {
			d := ppDown{down: newResample(in, false), pyr: nn.NewFIR(e, C, res, res, pc.FIRKernel, false)}
			res /= 2
			d.combine = nn.NewConv2D(e, "", C, in, res, res, 1, 1, 0)
			d.combine.Init(1, rng)
			rename(mod(), d.combine.Params(), "Conv_0.conv.weight", "Conv_0.conv.bias")
			pp.down = append(pp.down, d)
			pp.hsSize = append(pp.hsSize, in*res*res)
			hsC = append(hsC, in)
		}
	}
	pp.mid0 = newRes(in, in)
	if pc.Attention {
		m := mod()
		pp.attn = nn.NewSelfAttention(e, m, in, res, res)
		pp.attn.Init(0, rng)
		rename(m, pp.attn.Params(), "to_qkv.weight", "to_qkv.bias", "to_out.weight", "to_out.bias")
	}
	pp.mid1 = newRes(in, in)
	for i := L - 1; i >= 0; i-- {
		var u ppUp
		for range cfg.NumResBlocks + 1 {
			sc := hsC[len(hsC)-1]
			hsC = hsC[:len(hsC)-1]
			out := nf * cfg.ChMult[i]
			u.cats = append(u.cats, nn.NewConcat(e, in, sc, res*res))
			u.res = append(u.res, newRes(in+sc, out))
			in = out
		}
		u.norm = nn.NewGroupNorm(e, "", in, res*res, nn.Groups(in), true)
		rename(mod(), u.norm.Params(), "weight", "bias")
		u.conv = nn.NewConv2D(e, "", in, C, res, res, 3, 1, 1)
		u.conv.Init(0, rng)
		rename(mod(), u.conv.Params(), "conv.weight", "conv.bias")
		if i != L-1 {
			u.pyrUp = nn.NewFIR(e, C, res/2, res/2, pc.FIRKernel, true)
		}
		if i != 0 {
			u.upRes = newResample(in, true)
			res *= 2
		}
		pp.up = append(pp.up, u)
	}
	for _, d := range pp.down {
		if d.res != nil {
			nt.flopsImg += d.res.Flops()
		} else {
			nt.flopsImg += d.down.Flops() + d.combine.Flops()
		}
	}
	nt.flopsImg += pp.mid0.Flops() + pp.mid1.Flops()
	if pp.attn != nil {
		nt.flopsImg += pp.attn.Flops()
	}
	for _, u := range pp.up {
		for _, r := range u.res {
			nt.flopsImg += r.Flops()
		}
		nt.flopsImg += u.conv.Flops()
		if u.upRes != nil {
			nt.flopsImg += u.upRes.Flops()
		}
	}
	pp.hs = make([][]float32, len(pp.hsSize))
	pp.dhs = make([][]float32, len(pp.hsSize))
	pp.pyrs = make([][]float32, len(pp.down))
}

// condition returns the Fourier input of σ: t = ln(σ/σ_min)/ln(σ_max/σ_min).
func (pp *ppNet) condition(dst, sigma []float32, sigmaMin float64) {
	for i := range dst {
		dst[i] = float32((math.Log(float64(sigma[i])) - math.Log(sigmaMin)) / pp.logRatio)
	}
}

// forward runs the network on x (already copied) with the embedding t.
func (pp *ppNet) forward(nt *Net, x, t []float32, n int) []float32 {
	pp.n = n
	h := nt.convIn.Forward(x, n)
	pp.hs[0] = h
	pyr := x
	for j, d := range pp.down {
		if d.res != nil {
			h = d.res.Forward(h, t, n)
		} else {
			h = d.down.Forward(h, t, n)
			pp.pyrs[j] = pyr
			pyr = d.pyr.Forward(pyr, n)
			d.combine.Residual, d.combine.ResidualScale = h, 1
			h = d.combine.Forward(pyr, n)
		}
		pp.hs[j+1] = h
	}
	h = pp.mid0.Forward(h, t, n)
	if pp.attn != nil {
		h = pp.attn.Forward(h, n)
	}
	h = pp.mid1.Forward(h, t, n)
	k := len(pp.hs)
	var out []float32
	for _, u := range pp.up {
		for j, r := range u.res {
			k--
			h = r.Forward(u.cats[j].Forward(h, pp.hs[k], n), t, n)
		}
		a := u.norm.Forward(h, n)
		if u.pyrUp != nil {
			u.conv.Residual, u.conv.ResidualScale = u.pyrUp.Forward(out, n), 1
		}
		out = u.conv.Forward(a, n)
		if u.upRes != nil {
			h = u.upRes.Forward(h, t, n)
		}
	}
	return out
}

// backward propagates dout (dL/dε) to the input and the parameters; dt
// receives dL/dtemb. It returns dL/dx.
func (pp *ppNet) backward(nt *Net, dout, dt []float32) []float32 {
	n := pp.n
	for j := range pp.dhs {
		pp.dhs[j] = grow(pp.dhs[j], n*pp.hsSize[j])
		clear(pp.dhs[j])
	}
	var dh []float32
	for ui := len(pp.up) - 1; ui >= 0; ui-- {
		u := pp.up[ui]
		var g []float32
		if u.upRes != nil {
			g = u.upRes.Backward(dh, dt)
		}
		da := u.norm.Backward(u.conv.Backward(dout))
		if g == nil {
			g = da
		} else {
			addTo(g, da)
		}
		if u.pyrUp != nil {
			dout = u.pyrUp.Backward(dout)
		}
		for j := len(u.res) - 1; j >= 0; j-- {
			dc, ds := u.cats[j].Backward(u.res[j].Backward(g, dt))
			addTo(pp.dhs[pp.skipIndex(ui, j)], ds)
			g = dc
		}
		dh = g
	}
	g := pp.mid1.Backward(dh, dt)
	if pp.attn != nil {
		g = pp.attn.Backward(g)
	}
	g = pp.mid0.Backward(g, dt)
	addTo(pp.dhs[len(pp.dhs)-1], g)
	var dpyr []float32 // dL/d(pyramid input of the current level)
	for j := len(pp.down) - 1; j >= 0; j-- {
		d := pp.down[j]
		if d.res != nil {
			addTo(pp.dhs[j], d.res.Backward(pp.dhs[j+1], dt))
			continue
		}
		dp := d.combine.Backward(pp.dhs[j+1])
		if dpyr != nil {
			addTo(dp, dpyr)
		}
		dpyr = d.pyr.Backward(dp)
		addTo(pp.dhs[j], d.down.Backward(pp.dhs[j+1], dt))
	}
	pp.dx = grow(pp.dx, len(nt.xbuf))
	copy(pp.dx, nt.convIn.Backward(pp.dhs[0]))
	if dpyr != nil {
		addTo(pp.dx, dpyr)
	}
	return pp.dx
}

// skipIndex returns the index in hs of the skip tensor that up level ui's
// block j concatenates.
func (pp *ppNet) skipIndex(ui, j int) int {
	k := len(pp.hs)
	for v := 0; v <= ui; v++ {
		for jj := range pp.up[v].res {
			k--
			if v == ui && jj == j {
				return k
			}
		}
	}
	panic("score: skip index out of range")
}

// ForwardTime is Forward for an NCSNpp network (Config.Arch = ArchNCSNpp)
// given score_models' time t ∈ [0, 1] of each image instead of σ: the
// network's own input, so that no rounding of σ enters. The score is the
// result divided by σ(t) = σ_min (σ_max/σ_min)^t.
func (nt *Net) ForwardTime(x, t []float32, batch int) []float32 {
	if nt.pp == nil {
		panic("score: ForwardTime on a network that is not an NCSNpp")
	}
	nt.condT = true
	defer func() { nt.condT = false }()
	return nt.Forward(x, t, batch)
}

// Resized returns a network with nt's architecture and a copy of its
// weights for size×size images, using nt's back-end and worker count. An
// NCSNpp runs at any size its levels divide (its weights do not depend on
// the size); lenscore's own network places attention by resolution in
// pixels and is only "resized" to its own size.
func Resized(nt *Net, size int) (*Net, error) {
	cfg := nt.Config()
	if size == cfg.ImageSize && cfg.Arch != ArchNCSNpp {
		// fall through: a copy at the same size
	} else if cfg.Arch != ArchNCSNpp {
		return nil, fmt.Errorf("score: lenscore's network for %d×%d images cannot run at %d×%d (its attention resolutions are in pixels); only NCSNpp networks run at any size", cfg.ImageSize, cfg.ImageSize, size, size)
	}
	cfg.ImageSize = size
	cfg.Workers = nt.Workers()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out, err := New(cfg, nt.Gemm(), 0)
	if err != nil {
		return nil, err
	}
	for i, p := range out.Params() {
		copy(p.Data, nt.params[i].Data)
	}
	return out, nil
}
