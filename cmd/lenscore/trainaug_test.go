package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/train"
	"github.com/lenscore/lenscore/weights"
)

// writeNoisyBlobs writes n 32×32 grey PNGs of a Gaussian galaxy on a sky
// of level 40 with noise of standard deviation 4 (8-bit counts).
func writeNoisyBlobs(t *testing.T, dir string, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(11, 12))
	for k := range n {
		img := image.NewGray(image.Rect(0, 0, 32, 32))
		for y := range 32 {
			for x := range 32 {
				dx, dy := float64(x)-15.5-float64(k%3), float64(y)-15.5+float64(k%2)
				v := 40 + 180*math.Exp(-(dx*dx+dy*dy)/(2*float64(9+k))) + 4*r.NormFloat64()
				img.SetGray(x, y, color.Gray{Y: uint8(math.Round(min(max(v, 0), 255)))})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("g%02d.png", k)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTrainKeepSkyAndAugment: `lenscore train --keep-sky --shift --scale`
// records both in the model, a run stopped at step 3 and resumed to 6 ends
// with the same model file as a run of 6 steps, the experiments' loader
// reads the model's sky setting, the kept sky has negative pixels where
// the clipped one has none, and bad values are refused.
func TestTrainKeepSkyAndAugment(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "gals")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNoisyBlobs(t, data, 8)
	args := func(out string, steps int) []string {
		return []string{"train", "--out", out, "--data", data, "--size", "16", "--nf", "8", "--steps", fmt.Sprint(steps), "--batch", "2",
			"--val-every", "3", "--val-fraction", "0.25", "--warmup", "2", "--keep-sky", "--shift", "1", "--scale", "0.1"}
	}
	runA, runB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	mustRun(t, args(runA, 6)...)
	mustRun(t, args(runB, 3)...)
	mustRun(t, "train", "--out", runB, "--data", data, "--val-fraction", "0.25", "--resume", "--steps", "6")
	a, err := os.ReadFile(filepath.Join(runA, train.EMAFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(runB, train.EMAFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("stopped at 3 and resumed to 6: the model differs from an uninterrupted 6-step run")
	}
	meta, err := weights.ReadMeta(filepath.Join(runA, train.EMAFile))
	if err != nil {
		t.Fatal(err)
	}
	if meta[train.MetaSky] != train.SkyKeptValue || meta[train.MetaAugment] != "dihedral, shift 1 px, scale 0.1" {
		t.Errorf("model metadata sky %q, augment %q", meta[train.MetaSky], meta[train.MetaAugment])
	}
	pr, err := loadNetworkPrior(filepath.Join(runA, train.EMAFile), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	if !pr.SkyKept {
		t.Error("the experiments' prior loader does not see that the sky was kept")
	}
	if pr.Sky != train.SkyModeKept {
		t.Errorf("the prior loader's sky %q", pr.Sky)
	}
	// 32² images resampled to 16²: the noise of 4 counts in 140 of peak
	// becomes ≈ 0.012 per pixel; denoising leaves a part of it (on so
	// small an image the coarse scale covers the whole frame).
	sigma := map[string]float64{}
	for _, sky := range []string{train.SkyModeClipped, train.SkyModeKept, train.SkyModeDenoised} {
		ds, err := loadTrainingDataSky(data, 16, -1, nil, false, sky)
		if err != nil {
			t.Fatal(err)
		}
		var neg float64
		for _, im := range ds.Train {
			n, s := train.SkyStats(im.Pix, 16, 0)
			neg += n / float64(len(ds.Train))
			sigma[sky] += s / float64(len(ds.Train))
		}
		if sky == train.SkyModeKept && neg < 0.1 || sky == train.SkyModeClipped && neg != 0 {
			t.Errorf("sky %s: %.2f of the pixels negative", sky, neg)
		}
	}
	if !(sigma[train.SkyModeDenoised] < 0.5*sigma[train.SkyModeKept]) || !(sigma[train.SkyModeKept] > 0.008) {
		t.Errorf("border sky noise: kept %.4f, denoised %.4f", sigma[train.SkyModeKept], sigma[train.SkyModeDenoised])
	}
	if _, err := loadTrainingDataSky(data, 16, -1, nil, false, "smooth"); err == nil {
		t.Error("sky preparation smooth accepted")
	}
	checkFails(t, errCase{name: "sky", args: []string{"train", "--out", filepath.Join(dir, "badsky"), "--data", data, "--sky", "blue"},
		code: 1, want: []string{"--sky", "clipped, kept or denoised", "blue"}}, filepath.Join(dir, "badsky"))
	checkFails(t, errCase{name: "keep-sky and sky", args: []string{"train", "--out", filepath.Join(dir, "badsky2"), "--data", data, "--keep-sky", "--sky", "denoised"},
		code: 1, want: []string{"--keep-sky contradicts --sky denoised"}}, filepath.Join(dir, "badsky2"))
	for _, c := range []struct{ flag, val, want string }{{"--shift", "-1", "--shift must be"}, {"--scale", "2", "--scale must be in [0, 1]"}, {"--shift", "9", "quarter of the 16-pixel images"}} {
		out := filepath.Join(dir, "bad"+c.flag+c.val)
		checkFails(t, errCase{name: c.flag + " " + c.val, args: []string{"train", "--out", out, "--data", data, "--size", "16", "--nf", "8", "--steps", "1", c.flag, c.val},
			code: 1, want: []string{c.want}}, out)
	}
}
