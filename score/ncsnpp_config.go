package score

import (
	"fmt"
	"math"
	"slices"

	"github.com/lenscore/lenscore/nn"
)

// ArchNCSNpp is Config.Arch for score_models' NCSNpp (see ncsnpp.go).
const ArchNCSNpp = "ncsnpp"

// NCSNppConfig holds the options of score_models' NCSNpp beyond the fields
// Config shares with lenscore's own architecture (Channels, NF, ChMult,
// NumResBlocks, FourierScale). The other score_models hyper-parameters are
// fixed to the values this architecture implements: resblock_type "biggan",
// progressive "output_skip", progressive_input "input_skip",
// combine_method "sum", activation "swish", dimensions 2, no conditioning
// (dropout only acts in training and is not used).
type NCSNppConfig struct {
	// FIRKernel is the 1-D FIR resampling kernel (score_models' fir_kernel,
	// default 1,3,3,1; 1,1 is fir=false: average pooling and nearest).
	FIRKernel []float64 `json:"fir_kernel"`
	// SkipRescale divides every residual sum by √2.
	SkipRescale bool `json:"skip_rescale"`
	// Attention adds self-attention between the two middle blocks.
	Attention bool `json:"attention"`
	// SigmaMin and SigmaMax define the network's time input: it is
	// conditioned on t = ln(σ/σ_min)/ln(σ_max/σ_min) (score_models' VE SDE,
	// σ(t) = σ_min (σ_max/σ_min)^t), not on ln σ.
	SigmaMin float64 `json:"sigma_min"`
	SigmaMax float64 `json:"sigma_max"`
}

// NewNCSNppConfig returns the Config of an NCSNpp with score_models'
// defaults for the options not given (fir_kernel 1,3,3,1, skip_rescale,
// attention) for images of size×size pixels.
func NewNCSNppConfig(channels, nf int, chMult []int, numResBlocks, size int, fourierScale, sigmaMin, sigmaMax float64) Config {
	return Config{Arch: ArchNCSNpp, ImageSize: size, Channels: channels, NF: nf, ChMult: slices.Clone(chMult),
		NumResBlocks: numResBlocks, FourierScale: fourierScale,
		NCSNpp: &NCSNppConfig{FIRKernel: []float64{1, 3, 3, 1}, SkipRescale: true, Attention: true,
			SigmaMin: sigmaMin, SigmaMax: sigmaMax}}
}

// validateArch checks the fields of the non-default architectures; it is
// called by Validate after the common checks.
func (c Config) validateArch() error {
	switch c.Arch {
	case "":
		if c.NCSNpp != nil {
			return fmt.Errorf("score: config has ncsnpp options but arch %q", c.Arch)
		}
		return nil
	case ArchNCSNpp:
	default:
		return fmt.Errorf("score: config arch %q is not known (want \"\" for lenscore's network or %q)", c.Arch, ArchNCSNpp)
	}
	p := c.NCSNpp
	switch {
	case p == nil:
		return fmt.Errorf("score: config arch %q needs the ncsnpp options", c.Arch)
	case c.NF%2 != 0:
		return fmt.Errorf("score: config nf must be even for arch %q (Fourier features of nf/2 frequencies), got %d", c.Arch, c.NF)
	case len(c.AttnResolutions) != 0:
		return fmt.Errorf("score: config attn_resolutions must be empty for arch %q (attention is only in the middle: ncsnpp.attention)", c.Arch)
	case !(p.SigmaMin > 0) || !(p.SigmaMax > p.SigmaMin) || math.IsInf(p.SigmaMax, 1):
		return fmt.Errorf("score: config ncsnpp sigma_min %g and sigma_max %g must satisfy 0 < sigma_min < sigma_max < ∞", p.SigmaMin, p.SigmaMax)
	}
	if err := nn.CheckFIRKernel(p.FIRKernel); err != nil {
		return fmt.Errorf("score: config ncsnpp fir_kernel: %w", err)
	}
	for _, l := range c.ncsnppPlan() {
		if l.norm > 0 && l.norm%nn.Groups(l.norm) != 0 {
			return fmt.Errorf("score: config gives %d channels at %s, not divisible into GroupNorm's min(C/4, 32) = %d groups", l.norm, l.name, nn.Groups(l.norm))
		}
	}
	return nil
}

// ppParam is one tensor of an NCSNpp state dict.
type ppParam struct {
	name  string // score_models' state-dict key
	shape []int  // PyTorch's shape
	norm  int    // for GroupNorm weights: the channel count, else 0
}

// TorchShape returns the PyTorch shape of a parameter of an NCSNpp network
// (lenscore stores attention projections as [Cout, Cin], PyTorch as
// [Cout, Cin, 1, 1]).
func TorchShapes(c Config) map[string][]int {
	m := map[string][]int{}
	for _, p := range c.ncsnppPlan() {
		m[p.name] = p.shape
	}
	return m
}

// ncsnppPlan lists the parameters of score_models' NCSNpp for c in
// state-dict order, named as score_models names them (all_modules.K...).
func (c Config) ncsnppPlan() []ppParam {
	var ps []ppParam
	k := 0
	mod := func() string { s := fmt.Sprintf("all_modules.%d", k); k++; return s }
	conv := func(name string, cin, cout, ks int) {
		ps = append(ps, ppParam{name: name + ".weight", shape: []int{cout, cin, ks, ks}}, ppParam{name: name + ".bias", shape: []int{cout}})
	}
	lin := func(name string, in, out int) {
		ps = append(ps, ppParam{name: name + ".weight", shape: []int{out, in}}, ppParam{name: name + ".bias", shape: []int{out}})
	}
	norm := func(name string, ch int) {
		ps = append(ps, ppParam{name: name + ".weight", shape: []int{ch}, norm: ch}, ppParam{name: name + ".bias", shape: []int{ch}})
	}
	nf, td := c.NF, 4*c.NF
	res := func(cin, cout int, resample bool) {
		m := mod()
		norm(m+".GroupNorm_0", cin)
		conv(m+".Conv_0.conv", cin, cout, 3)
		lin(m+".Dense_0", td, cout)
		norm(m+".GroupNorm_1", cout)
		conv(m+".Conv_1.conv", cout, cout, 3)
		if cin != cout || resample {
			conv(m+".Conv_2.conv", cin, cout, 1)
		}
	}
	ps = append(ps, ppParam{name: mod() + ".W", shape: []int{nf / 2}})
	lin(mod(), nf, td)
	lin(mod(), td, td)
	conv(mod()+".conv", c.Channels, nf, 3)
	hs := []int{nf}
	in := nf
	L := len(c.ChMult)
	for i, m := range c.ChMult {
		for range c.NumResBlocks {
			out := nf * m
			res(in, out, false)
			in = out
			hs = append(hs, in)
		}
		if i != L-1 {
			res(in, in, true)
			conv(mod()+".Conv_0.conv", c.Channels, in, 1) // Combine
			hs = append(hs, in)
		}
	}
	res(in, in, false)
	if c.NCSNpp != nil && c.NCSNpp.Attention {
		m := mod()
		conv(m+".to_qkv", in, 3*in, 1)
		conv(m+".to_out", in, in, 1)
	}
	res(in, in, false)
	for i := L - 1; i >= 0; i-- {
		for range c.NumResBlocks + 1 {
			out := nf * c.ChMult[i]
			res(in+hs[len(hs)-1], out, false)
			hs = hs[:len(hs)-1]
			in = out
		}
		norm(mod(), in)
		conv(mod()+".conv", in, c.Channels, 3)
		if i != 0 {
			res(in, in, true)
		}
	}
	return ps
}

// ncsnppNumParams counts the values of the NCSNpp for c.
func (c Config) ncsnppNumParams() int64 {
	var n int64
	for _, p := range c.ncsnppPlan() {
		v := int64(1)
		for _, d := range p.shape {
			v *= int64(d)
		}
		n += v
	}
	return n
}
