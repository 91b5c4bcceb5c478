package score

import (
	"fmt"
	"math"
	"slices"
)

// Config describes the architecture. Sizes are free: the defaults give the
// ~2.4 M-parameter 64×64 network; the NCSN++ paper's 256×256 settings are
// NF=128, ChMult={1,1,2,2,2,2,2}, NumResBlocks=2, AttnResolutions={16}.
type Config struct {
	ImageSize       int     `json:"image_size"`       // H = W, divisible by 2^(len(ChMult)−1)
	Channels        int     `json:"channels"`         // image channels (1 for lensing sources)
	NF              int     `json:"nf"`               // base channel count
	ChMult          []int   `json:"ch_mult"`          // channel multiplier per resolution level
	NumResBlocks    int     `json:"num_res_blocks"`   // residual blocks per level (down path; up path has one more)
	AttnResolutions []int   `json:"attn_resolutions"` // resolutions (pixels per side) with self-attention
	FourierScale    float64 `json:"fourier_scale"`    // std of the Fourier frequencies (NCSN++: 16)
	// Arch is "" for lenscore's network (doc.go) or ArchNCSNpp for
	// score_models' NCSNpp (ncsnpp.go), whose options are in NCSNpp.
	Arch   string        `json:"arch,omitempty"`
	NCSNpp *NCSNppConfig `json:"ncsnpp,omitempty"`
	// Workers is the number of goroutines the network uses (0: GOMAXPROCS at
	// New). It is not part of the architecture and is not saved.
	Workers int `json:"-"`
}

// DefaultConfig returns the default 64×64 configuration (2,265,505 parameters, see doc.go).
func DefaultConfig() Config {
	return Config{ImageSize: 64, Channels: 1, NF: 32, ChMult: []int{1, 2, 2, 2}, NumResBlocks: 2,
		AttnResolutions: []int{16, 8}, FourierScale: 16}
}

// TembDim returns the time-embedding width 4·NF.
func (c Config) TembDim() int { return 4 * c.NF }

// Bounds on the configuration fields accepted by Validate. They are far
// above any network this package can train, and keep every size derived
// from a (possibly hostile) config file well inside int64.
const (
	MaxChannels     = 16
	MaxNF           = 4096
	MaxLevels       = 16 // len(ChMult)
	MaxMult         = 64 // each ChMult entry
	MaxImageSize    = 8192
	MaxNumResBlocks = 16
)

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.Channels < 1 || c.Channels > MaxChannels:
		return fmt.Errorf("score: config channels must be in [1, %d], got %d", MaxChannels, c.Channels)
	case c.NF < 1 || c.NF > MaxNF:
		return fmt.Errorf("score: config nf must be in [1, %d], got %d", MaxNF, c.NF)
	case len(c.ChMult) == 0:
		return fmt.Errorf("score: config ch_mult is empty")
	case len(c.ChMult) > MaxLevels:
		return fmt.Errorf("score: config ch_mult has %d entries, at most %d allowed", len(c.ChMult), MaxLevels)
	case c.NumResBlocks < 1 || c.NumResBlocks > MaxNumResBlocks:
		return fmt.Errorf("score: config num_res_blocks must be in [1, %d], got %d", MaxNumResBlocks, c.NumResBlocks)
	case c.ImageSize < 1 || c.ImageSize > MaxImageSize:
		return fmt.Errorf("score: config image_size must be in [1, %d], got %d", MaxImageSize, c.ImageSize)
	case !(c.FourierScale > 0) || math.IsInf(c.FourierScale, 1):
		return fmt.Errorf("score: config fourier_scale must be positive and finite, got %g", c.FourierScale)
	case c.Workers < 0:
		return fmt.Errorf("score: config workers must be ≥ 0, got %d", c.Workers)
	}
	for i, m := range c.ChMult {
		if m < 1 || m > MaxMult {
			return fmt.Errorf("score: config ch_mult[%d] must be in [1, %d], got %d", i, MaxMult, m)
		}
	}
	div := 1 << (len(c.ChMult) - 1)
	if c.ImageSize < div || c.ImageSize%div != 0 {
		return fmt.Errorf("score: config image_size %d must be a positive multiple of 2^(len(ch_mult)-1) = %d with %d ch_mult levels: use image_size %s, or at most %d levels with image_size %d",
			c.ImageSize, div, len(c.ChMult), joinInts(sizesNear(c.ImageSize, div)), maxLevelsFor(c.ImageSize, 1), c.ImageSize)
	}
	if err := groupNormCheck(c); err != nil {
		return fmt.Errorf("%w; nf values that work with this ch_mult: %s, …",
			err, joinInts(workingNF(c, 8)))
	}
	for _, r := range c.AttnResolutions {
		if !slices.Contains(c.Resolutions(), r) {
			return fmt.Errorf("score: config attn_resolutions has %d, which is not one of the U-Net resolutions %s (image_size %d, %d ch_mult levels); %s",
				r, joinInts(c.Resolutions()), c.ImageSize, len(c.ChMult), attnHint(c, r))
		}
	}
	return c.validateArch()
}

func (c Config) clone() Config {
	c.ChMult = slices.Clone(c.ChMult)
	c.AttnResolutions = slices.Clone(c.AttnResolutions)
	if c.NCSNpp != nil {
		p := *c.NCSNpp
		p.FIRKernel = slices.Clone(p.FIRKernel)
		c.NCSNpp = &p
	}
	return c
}

// NumParams returns the number of parameter values the network for c has
// (what Net.NumParams reports after New), computed from the architecture
// alone without building it. c must be valid.
func (c Config) NumParams() int64 {
	if c.Arch == ArchNCSNpp {
		return c.ncsnppNumParams()
	}
	nf, td := int64(c.NF), int64(c.TembDim())
	conv := func(cin, cout, k int64) int64 { return cout*cin*k*k + cout }
	lin := func(in, out int64) int64 { return out*in + out }
	norm := func(ch int64) int64 { return 2 * ch }
	res := func(cin, cout int64) int64 {
		n := norm(cin) + conv(cin, cout, 3) + lin(td, cout) + norm(cout) + conv(cout, cout, 3)
		if cin != cout {
			n += conv(cin, cout, 1)
		}
		return n
	}
	attn := func(ch int64) int64 { return norm(ch) + lin(ch, 3*ch) + lin(ch, ch) }
	hasAttn := func(r int) bool { return slices.Contains(c.AttnResolutions, r) }

	n := nf + lin(2*nf, td) + lin(td, td) // Fourier frequencies, time embedding
	ch := int64(c.Channels)
	n += conv(ch, nf, 3)
	r, in := c.ImageSize, nf
	hs := []int64{nf}
	for i, m := range c.ChMult {
		for range c.NumResBlocks {
			out := nf * int64(m)
			n += res(in, out)
			in = out
			if hasAttn(r) {
				n += attn(in)
			}
			hs = append(hs, in)
		}
		if i != len(c.ChMult)-1 {
			n += conv(in, in, 3)
			r /= 2
			hs = append(hs, in)
		}
	}
	n += 2*res(in, in) + attn(in)
	for i := len(c.ChMult) - 1; i >= 0; i-- {
		for range c.NumResBlocks + 1 {
			sc := hs[len(hs)-1]
			hs = hs[:len(hs)-1]
			out := nf * int64(c.ChMult[i])
			n += res(in+sc, out)
			in = out
		}
		if hasAttn(r) {
			n += attn(in)
		}
		if i != 0 {
			n += conv(in, in, 3)
			r *= 2
		}
	}
	return n + norm(in) + conv(in, ch, 3)
}
