package score

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/nn"
)

// ConfigForSize returns the default architecture for size×size images:
//
//   - size ≤ 64: DefaultConfig (NF 32, ChMult 1,2,2,2, two residual blocks,
//     attention at 16 and 8) with ImageSize set, keeping only the attention
//     resolutions the U-Net has;
//   - size > 64: the layout of score_sde_pytorch's NCSN++ at 256×256 (ChMult
//     1,1,2,2,2,2,2, two residual blocks, attention at 16), with one level per
//     halving of the image down to the smallest side ≥ 4 (so 6 levels at
//     128×128 and 7 at 256×256: the coarsest grid is 4×4 at both) and
//     attention at 16 (or the resolution nearest to it), at NF 32.
//
// score_sde_pytorch has no 128×128 NCSN++ configuration; its 256×256 layout
// one level shorter is used. NF stays 32 at every size so that a network
// trains on a laptop's CPU; score_sde_pytorch's 256×256 model has NF 128
// (57.7 M parameters, 16× the floating-point work of NF 32).
//
// Sizes that cannot be halved at all (odd) get a single level. The result
// is valid (Validate) for every size in [4, MaxImageSize] that DefaultConfig's
// channel widths allow.
func ConfigForSize(size int) Config {
	c := DefaultConfig()
	c.ImageSize = size
	if size <= 64 {
		levels := min(len(c.ChMult), maxLevelsFor(size, 1))
		c.ChMult = c.ChMult[:levels]
		c.AttnResolutions = slices.DeleteFunc(c.AttnResolutions, func(r int) bool { return !slices.Contains(c.Resolutions(), r) })
		return c
	}
	levels := maxLevelsFor(size, 4)
	c.ChMult = make([]int, levels)
	for i := range c.ChMult {
		c.ChMult[i] = 2
		if i < 2 {
			c.ChMult[i] = 1
		}
	}
	best := 0
	for _, r := range c.Resolutions() {
		if best == 0 || abs(r-16) < abs(best-16) {
			best = r
		}
	}
	c.AttnResolutions = []int{best}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// maxLevelsFor returns the largest number of U-Net levels an image of the
// given side supports when every level but the last halves an even side
// and the last side is at least minSide (at least one level).
func maxLevelsFor(size, minSide int) int {
	l := 1
	for s := size; s%2 == 0 && s/2 >= minSide; s /= 2 {
		l++
	}
	return l
}

// Resolutions returns the side of the feature maps at each U-Net level:
// ImageSize, ImageSize/2, … (len(ChMult) entries).
func (c Config) Resolutions() []int {
	r := make([]int, len(c.ChMult))
	for i := range r {
		r[i] = c.ImageSize >> i
	}
	return r
}

// ParseInts parses a comma-separated list of integers such as "1,2,2,2"
// (spaces allowed); "" and "none" give an empty list. It is what the
// command line's --ch-mult and --attn-resolutions take.
func ParseInts(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return []int{}, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a comma-separated list of integers", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// joinInts formats a list of integers as "a, b, c".
func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// sizesNear returns up to two image sides near size that are multiples of
// div (the nearest below and above, positive).
func sizesNear(size, div int) []int {
	var out []int
	if lo := size / div * div; lo >= div {
		out = append(out, lo)
	}
	return append(out, (size/div+1)*div)
}

// workingNF returns up to max base widths NF, multiples of 4 in increasing
// order (≤ MaxNF), with which the rest of c passes the group-normalisation
// check.
func workingNF(c Config, max int) []int {
	var out []int
	for nf := 4; nf <= MaxNF && len(out) < max; nf += 4 {
		c.NF = nf
		if groupNormCheck(c) == nil {
			out = append(out, nf)
		}
	}
	return out
}

// groupNormCheck reports the first group normalisation whose input width
// is not divisible into nn.Groups(C) groups, naming the values of NF that
// would work; it covers the up path's concatenated widths as well.
func groupNormCheck(c Config) error {
	return (&Net{cfg: c}).walk(func(name string, ch int) error {
		if ch%nn.Groups(ch) != 0 {
			return fmt.Errorf("score: config nf %d with ch_mult %v gives %d channels at %s, not divisible into GroupNorm's min(C/4, 32) = %d groups",
				c.NF, c.ChMult, ch, name, nn.Groups(ch))
		}
		return nil
	})
}

// attnHint suggests how an attention resolution r that the U-Net of c
// lacks could be had.
func attnHint(c Config, r int) string {
	if r >= 1 && c.ImageSize%r == 0 {
		if k := c.ImageSize / r; k&(k-1) == 0 {
			levels := 1
			for ; k > 1; k /= 2 {
				levels++
			}
			if levels <= maxLevelsFor(c.ImageSize, 1) {
				return fmt.Sprintf("use some of those, or give ch_mult %d levels (e.g. %s) to reach %d", levels, joinInts(chMultLevels(c, levels)), r)
			}
		}
	}
	return fmt.Sprintf("%d is not image_size/2^k for any k, so use some of those", r)
}

// chMultLevels returns c's ch_mult cut or extended (repeating its
// last multiplier) to the given number of levels.
func chMultLevels(c Config, levels int) []int {
	m := slices.Clone(c.ChMult[:min(levels, len(c.ChMult))])
	for len(m) < levels {
		m = append(m, c.ChMult[len(c.ChMult)-1])
	}
	return m
}
