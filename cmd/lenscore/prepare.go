package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/train"
)

// runPrepare turns a galaxy picture (PNG or FITS) into a source image with
// the training pipeline's crop, resampling and normalisation.
func runPrepare(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "prepare", "--in galaxy.png|galaxy.fits --size 64 --out source.fits")
	in := fs.String("in", "", "input image: PNG, or FITS (first image HDU)")
	size := fs.Int("size", 64, "output side in pixels")
	out := fs.String("out", "", "output FITS file")
	force := addForceFlag(fs)
	credit := fs.String("credit", "", "image credit recorded in the header")
	removeStars := fs.Bool("remove-stars", false, "remove foreground stars as lenscore train does (compact sources outside the galaxy's body)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "in", "out"); err != nil {
		return err
	}
	if *size < 4 {
		return fmt.Errorf("--size must be ≥ 4, got %d", *size)
	}
	if err := checkNewOutFile(*out, *force); err != nil {
		return err
	}
	var pix []float64
	var w, h int
	var err error
	if strings.EqualFold(filepath.Ext(*in), ".png") {
		pix, w, h, err = train.ReadPNG(*in)
	} else {
		var hdus []*fits.HDU
		if hdus, err = fits.ReadFile(*in); err == nil {
			err = fmt.Errorf("%s: no 2-D image HDU", *in)
			for _, u := range hdus {
				if len(u.Shape) == 2 {
					pix, w, h, err = u.Data, u.Shape[0], u.Shape[1], nil
					break
				}
			}
		}
	}
	if err != nil {
		return err
	}
	img, err := train.Prepare(pix, w, h, *size, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	removed := 0
	if *removeStars {
		var left float32
		if removed, left = train.RemoveStars(img, *size, train.StarOptions{}); left < train.MinGalaxyPeak {
			return fmt.Errorf("%s: dominated by stars (the galaxy peaks at %.2f of the brightest star)", *in, left)
		}
	}
	data := make([]float64, len(img))
	for i, v := range img {
		data[i] = float64(v)
	}
	hdu := fits.NewImage(*size, *size, data)
	hdu.Header.Set("ORIGIN", cardText(filepath.Base(*in)), "image this source was prepared from")
	hdu.Header.Set("NORMALIS", "peak=1, border-median sky removed", "lenscore train.Prepare")
	if *credit != "" {
		hdu.Header.Set("CREDIT", cardText(*credit), "")
	}
	if *removeStars {
		hdu.Header.Set("STARS", "removed", fmt.Sprintf("%d pixels replaced (train.RemoveStars)", removed))
	}
	if err := fits.WriteFile(*out, []*fits.HDU{hdu}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s (%d×%d, peak 1", *out, *size, *size)
	if *removeStars {
		fmt.Fprintf(env.stdout, "; %d star pixels replaced", removed)
	}
	fmt.Fprintln(env.stdout, ")")
	return nil
}
