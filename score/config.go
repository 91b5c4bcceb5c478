package score

import (
	"fmt"
	"slices"

	"github.com/lenscore/lenscore/nn"
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

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.Channels < 1:
		return fmt.Errorf("score: config channels must be ≥ 1, got %d", c.Channels)
	case c.NF < 1:
		return fmt.Errorf("score: config nf must be ≥ 1, got %d", c.NF)
	case len(c.ChMult) == 0:
		return fmt.Errorf("score: config ch_mult is empty")
	case c.NumResBlocks < 1:
		return fmt.Errorf("score: config num_res_blocks must be ≥ 1, got %d", c.NumResBlocks)
	case !(c.FourierScale > 0):
		return fmt.Errorf("score: config fourier_scale must be positive, got %g", c.FourierScale)
	case c.Workers < 0:
		return fmt.Errorf("score: config workers must be ≥ 0, got %d", c.Workers)
	}
	for i, m := range c.ChMult {
		if m < 1 {
			return fmt.Errorf("score: config ch_mult[%d] must be ≥ 1, got %d", i, m)
		}
	}
	div := 1 << (len(c.ChMult) - 1)
	if c.ImageSize < div || c.ImageSize%div != 0 {
		return fmt.Errorf("score: config image_size %d must be a positive multiple of 2^(len(ch_mult)-1) = %d", c.ImageSize, div)
	}
	chans := []int{c.NF}
	for _, m := range c.ChMult {
		chans = append(chans, c.NF*m)
	}
	for _, ch := range chans {
		if ch%nn.Groups(ch) != 0 {
			return fmt.Errorf("score: config gives %d channels, not divisible into GroupNorm's min(C/4, 32) = %d groups (use nf·mult multiples of 4, and of 32 above 128)", ch, nn.Groups(ch))
		}
	}
	for _, r := range c.AttnResolutions {
		ok := false
		for l := range c.ChMult {
			ok = ok || c.ImageSize>>l == r
		}
		if !ok {
			return fmt.Errorf("score: config attn_resolutions has %d, which is not one of the U-Net resolutions", r)
		}
	}
	return nil
}

func (c Config) clone() Config {
	c.ChMult = slices.Clone(c.ChMult)
	c.AttnResolutions = slices.Clone(c.AttnResolutions)
	return c
}
