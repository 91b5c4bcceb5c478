package nn

import "math"

// GroupNormEps is the ε of GroupNorm (NCSN++ uses 1e-6).
const GroupNormEps = 1e-6

// Groups returns the NCSN++ group count for c channels: min(c/4, 32), at
// least 1.
func Groups(c int) int { return max(1, min(c/4, 32)) }

// GroupNorm normalises each group of C/G consecutive channels of one image
// to zero mean and unit variance over channels×pixels, then applies a
// per-channel affine map:
//
//	x̂ = (x − μ_g)/√(σ²_g + ε),  a = γ_c x̂ + β_c,  y = a  (or SiLU(a) if Act).
//
// σ²_g is the biased variance. Fusing the SiLU that follows every
// normalisation in NCSN++ saves a pass over memory. Gamma is initialised to
// 1 and Beta to 0.
type GroupNorm struct {
	e           *Engine
	C, HW, G    int
	Act         bool
	Gamma, Beta *Param
	gg, gbeta   *wgrad

	n                int
	x, xhat, rstd, y []float32
	sig              []float32 // σ(a), kept when Act
	keep             bool      // last Forward kept x̂ (and σ(a)) for Backward
	dy, dx           []float32
	fwd, bwd         func(w, i int)
}

// NewGroupNorm returns a group normalisation of c channels of hw pixels in
// groups groups (c must be divisible by groups), followed by SiLU if act.
func NewGroupNorm(e *Engine, name string, c, hw, groups int, act bool) *GroupNorm {
	if groups <= 0 || c%groups != 0 {
		panic("nn: GroupNorm channels not divisible by groups") // programming error
	}
	g := &GroupNorm{e: e, C: c, HW: hw, G: groups, Act: act}
	g.Gamma = NewParam(name+".weight", c)
	g.Beta = NewParam(name+".bias", c)
	for i := range g.Gamma.Data {
		g.Gamma.Data[i] = 1
	}
	g.gg, g.gbeta = newWGrad(e, g.Gamma), newWGrad(e, g.Beta)
	g.fwd, g.bwd = g.forwardOne, g.backwardOne
	return g
}

// Params returns Gamma and Beta.
func (g *GroupNorm) Params() []*Param { return []*Param{g.Gamma, g.Beta} }

// Forward implements Layer. The work is split into (image, group) tasks,
// each computed independently, so the result does not depend on the
// number of workers.
func (g *GroupNorm) Forward(x []float32, n int) []float32 {
	g.n = n
	g.y = grow(g.y, n*g.C*g.HW)
	g.rstd = grow(g.rstd, n*g.G)
	g.keep = !g.e.infer
	if g.keep {
		g.xhat = grow(g.xhat, n*g.C*g.HW)
		if g.Act {
			g.sig = grow(g.sig, n*g.C*g.HW)
		}
	}
	g.x = x
	g.e.RunDynamic(n*g.G, g.fwd)
	g.x = nil // only x̂ is needed by Backward
	return g.y
}

func sigmoid(a float32) float32 { return 1 / (1 + expf(-a)) }

func (g *GroupNorm) forwardOne(_, task int) {
	i, k := task/g.G, task%g.G
	sz := g.C * g.HW
	gs := sz / g.G
	cpg := g.C / g.G
	off := i*sz + k*gs
	mu, v2 := meanVar(g.x[off : off+gs])
	r := 1 / math.Sqrt(v2/float64(gs)+GroupNormEps)
	g.rstd[task] = float32(r)
	m32, r32 := float32(mu), float32(r)
	for c := k * cpg; c < (k+1)*cpg; c++ {
		gam, bet := g.Gamma.Data[c], g.Beta.Data[c]
		lo, hi := i*sz+c*g.HW, i*sz+(c+1)*g.HW
		xc := g.x[lo:hi]
		yc := g.y[lo:hi]
		var hc, sc []float32
		if g.keep {
			hc = g.xhat[lo:hi]
			if g.Act {
				sc = g.sig[lo:hi]
			}
		}
		if g.Act {
			gnSiluRow(xc, hc, sc, yc, m32, r32, gam, bet)
			continue
		}
		for j, v := range xc {
			h := (v - m32) * r32
			if hc != nil {
				hc[j] = h
			}
			yc[j] = gam*h + bet
		}
	}
}

// Backward implements Layer.
func (g *GroupNorm) Backward(dout []float32) []float32 {
	if !g.keep {
		panic("nn: GroupNorm.Backward after an inference-mode Forward") // programming error
	}
	g.dy = dout
	g.dx = grow(g.dx, g.n*g.C*g.HW)
	u := g.e.used(g.n * g.G)
	g.gg.zero(u)
	g.gbeta.zero(u)
	g.e.runBackward(g.n*g.G, g.bwd)
	if g.e.ParamGrads() {
		g.gg.reduce(u)
		g.gbeta.reduce(u)
	}
	return g.dx
}

// backwardOne: with da = dy·SiLU'(a) and dx̂ = γ da,
// dx = rstd·(dx̂ − mean_g(dx̂) − x̂·mean_g(dx̂·x̂)); Σ dx̂ = Σ_c γ_c Σ da and
// Σ dx̂·x̂ = Σ_c γ_c Σ da·x̂ come from the per-channel sums.
func (g *GroupNorm) backwardOne(w, task int) {
	i, k := task/g.G, task%g.G
	sz := g.C * g.HW
	gs := sz / g.G
	cpg := g.C / g.G
	dgam, dbet := g.gg.bufs[w], g.gbeta.bufs[w]
	var s1, s2 float64
	for c := k * cpg; c < (k+1)*cpg; c++ {
		gam, bet := g.Gamma.Data[c], g.Beta.Data[c]
		lo, hi := i*sz+c*g.HW, i*sz+(c+1)*g.HW
		hc, dyc, dxc := g.xhat[lo:hi], g.dy[lo:hi], g.dx[lo:hi]
		var sg, sb float32
		if g.Act {
			sg, sb = gnSiluBwdRow(hc, dyc, g.sig[lo:hi], dxc, gam, bet)
		} else {
			for j, h := range hc {
				da := dyc[j]
				sg += da * h
				sb += da
				dxc[j] = gam * da
			}
		}
		dgam[c] += sg
		dbet[c] += sb
		s1 += float64(gam) * float64(sb)
		s2 += float64(gam) * float64(sg)
	}
	m1 := float32(s1 / float64(gs))
	m2 := float32(s2 / float64(gs))
	off := i*sz + k*gs
	gnBwdFinish(g.dx[off:off+gs], g.xhat[off:off+gs], g.rstd[task], m1, m2)
}
