package score

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The size defaults: DefaultConfig at 64, score_sde_pytorch's 256² NCSN++
// layout at 256 (and its 57.7 M parameters at NF 128, the figure doc.go
// quotes), one level fewer at 128; every default is valid.
func TestConfigForSize(t *testing.T) {
	if got, want := ConfigForSize(64), DefaultConfig(); !slices.Equal(got.ChMult, want.ChMult) ||
		!slices.Equal(got.AttnResolutions, want.AttnResolutions) || got.NF != want.NF || got.NumResBlocks != want.NumResBlocks {
		t.Errorf("ConfigForSize(64) = %+v, want DefaultConfig %+v", got, want)
	}
	for _, c := range []struct {
		size       int
		chMult     []int
		attn       []int
		lowestSide int
	}{
		{128, []int{1, 1, 2, 2, 2, 2}, []int{16}, 4},
		{256, []int{1, 1, 2, 2, 2, 2, 2}, []int{16}, 4},
		{32, []int{1, 2, 2, 2}, []int{16, 8}, 4},
		{16, []int{1, 2, 2, 2}, []int{16, 8}, 2},
		{8, []int{1, 2, 2, 2}, []int{8}, 1},
		{96, []int{1, 1, 2, 2, 2}, []int{12}, 6},
	} {
		cfg := ConfigForSize(c.size)
		if !slices.Equal(cfg.ChMult, c.chMult) || !slices.Equal(cfg.AttnResolutions, c.attn) || cfg.NumResBlocks != 2 || cfg.NF != 32 || cfg.ImageSize != c.size {
			t.Errorf("ConfigForSize(%d) = %+v, want ch_mult %v, attention %v, 2 blocks, nf 32", c.size, cfg, c.chMult, c.attn)
		}
		if r := cfg.Resolutions(); r[len(r)-1] != c.lowestSide {
			t.Errorf("ConfigForSize(%d): resolutions %v, want the last %d", c.size, r, c.lowestSide)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("ConfigForSize(%d): %v", c.size, err)
		}
	}
	for size := 1; size <= 1024; size++ {
		if err := ConfigForSize(size).Validate(); err != nil {
			t.Fatalf("ConfigForSize(%d) is invalid: %v", size, err)
		}
	}
	paper := ConfigForSize(256)
	paper.NF = 128
	if got := paper.NumParams(); got != 57739137 {
		t.Errorf("256² layout at NF 128 has %d parameters, want 57,739,137", got)
	}
}

var listRE = regexp.MustCompile(`\d+(, \d+)+`)

// ints returns the integers of the first comma-separated list in s after
// the marker.
func intsAfter(t *testing.T, s, marker string) []int {
	t.Helper()
	_, rest, ok := strings.Cut(s, marker)
	if !ok {
		t.Fatalf("error %q lacks %q", s, marker)
	}
	m := listRE.FindString(rest)
	if m == "" {
		t.Fatalf("error %q: no list after %q", s, marker)
	}
	var out []int
	for _, f := range strings.Split(m, ", ") {
		v, _ := strconv.Atoi(f)
		out = append(out, v)
	}
	return out
}

// An impossible combination is refused with an error that names values
// that work, and those values do work.
func TestValidateNamesWorkingValues(t *testing.T) {
	// The case: the 64² layout at 128 has no 8×8 level.
	c := DefaultConfig()
	c.ImageSize = 128
	err := c.Validate()
	if err == nil {
		t.Fatal("attention at 8 with image_size 128 and 4 levels accepted")
	}
	res := intsAfter(t, err.Error(), "U-Net resolutions")
	if !slices.Equal(res, []int{128, 64, 32, 16}) {
		t.Errorf("listed resolutions %v, want 128, 64, 32, 16", res)
	}
	fix := c
	fix.ChMult = intsAfter(t, err.Error(), "(e.g.")
	if err := fix.Validate(); err != nil {
		t.Errorf("suggested ch_mult %v does not work: %v", fix.ChMult, err)
	}
	fix = c
	fix.AttnResolutions = res[2:]
	if err := fix.Validate(); err != nil {
		t.Errorf("attention at listed resolutions %v does not work: %v", res[2:], err)
	}

	// image_size not divisible by 2^(levels−1).
	c = DefaultConfig()
	c.ImageSize = 100
	c.AttnResolutions = nil
	err = c.Validate()
	if err == nil {
		t.Fatal("image_size 100 with 4 levels accepted")
	}
	for _, s := range intsAfter(t, err.Error(), "use image_size") {
		fix := c
		fix.ImageSize = s
		if err := fix.Validate(); err != nil {
			t.Errorf("suggested image_size %d does not work: %v", s, err)
		}
	}
	if !strings.Contains(err.Error(), "at most 3 levels") {
		t.Errorf("error %q does not say that 3 levels fit image_size 100", err)
	}
	fix = c
	fix.ChMult = c.ChMult[:3]
	if err := fix.Validate(); err != nil {
		t.Errorf("3 levels at 100: %v", err)
	}

	// GroupNorm widths.
	c = DefaultConfig()
	c.NF = 18
	err = c.Validate()
	if err == nil {
		t.Fatal("nf 18 accepted (18 channels in 4 groups)")
	}
	nfs := intsAfter(t, err.Error(), "nf values that work")
	if len(nfs) < 4 {
		t.Fatalf("error %q lists %v", err, nfs)
	}
	for _, nf := range nfs {
		fix := c
		fix.NF = nf
		if err := fix.Validate(); err != nil {
			t.Errorf("suggested nf %d does not work: %v", nf, err)
		}
		if _, err := New(fix, nil, 0); err == nil || !strings.Contains(err.Error(), "nil Gemm") {
			t.Errorf("New with suggested nf %d: %v, want only the nil-Gemm error", nf, err)
		}
	}
	// A width whose up-path concatenations break the group count is caught
	// by Validate, not only by New.
	c = DefaultConfig()
	c.NF = 132 // 132 channels: 32 groups do not divide it
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "nf values that work") {
		t.Errorf("nf 132: %v", err)
	}
}

func TestParseInts(t *testing.T) {
	for in, want := range map[string][]int{"1,2, 2,2": {1, 2, 2, 2}, "16": {16}, "none": {}, "": {}} {
		got, err := ParseInts(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseInts(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1,,2", "a", "1;2"} {
		if _, err := ParseInts(in); err == nil {
			t.Errorf("ParseInts(%q) accepted", in)
		}
	}
}
