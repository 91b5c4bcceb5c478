package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lenslight"
	"github.com/lenscore/lenscore/observation"
)

// lightSummary is the JSON record of subtract-light.
type lightSummary struct {
	Observation string        `json:"observation"`
	Profiles    []lens.Sersic `json:"profiles"`
	Sky         float64       `json:"sky"`
	Chi2Nu      float64       `json:"chi2_nu_unmasked"`
	Nu          int           `json:"nu"`
	ArcPixels   int           `json:"arc_pixels"`
	Evaluations int           `json:"evaluations"`
	WallSeconds float64       `json:"wall_seconds"`
}

// subtractLight fits the lens light of o and returns the observation with
// it subtracted (LENSLIGHT extension holding the model) and the summary.
func subtractLight(o *observation.Observation, opt lenslight.Options) (*observation.Observation, *lightSummary, error) {
	start := time.Now()
	g := lens.Grid{N: o.NPix, Scale: o.PixelScale}
	res, err := lenslight.Fit(o.Image, g, o.Sigma(), o.Keep, o.PSF, opt)
	if err != nil {
		return nil, nil, err
	}
	out := *o
	out.Image = make([]float64, len(o.Image))
	out.LensLight = res.Model
	for i, v := range o.Image {
		out.Image[i] = v - res.Model[i]
	}
	if o.Keep != nil {
		for i, k := range o.Keep {
			if !k {
				out.Image[i] = 0
			}
		}
	}
	sum := &lightSummary{Profiles: res.Profiles, Sky: res.Sky, Chi2Nu: res.Chi2Nu, Nu: res.Nu, Evaluations: res.Evals}
	for _, a := range res.ArcMask {
		if a {
			sum.ArcPixels++
		}
	}
	out.History = append(append([]string(nil), o.History...), fmt.Sprintf("lens light subtracted: %d Sersic profiles + sky %.4g (chi2_nu %.3f off the arcs)", len(res.Profiles), res.Sky, res.Chi2Nu))
	sum.WallSeconds = time.Since(start).Seconds()
	return &out, sum, nil
}

func runSubtractLight(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "subtract-light", "--obs O.fits [--profiles 2] [--center X,Y] --out O_sub.fits")
	obs := fs.String("obs", "", "observation file (import-obs) whose image shows the lens galaxy")
	nprof := fs.Int("profiles", 2, "concentric elliptical Sérsic profiles (1 or 2)")
	center := &floatList{n: 2, name: "X,Y"}
	fs.Var(center, "center", "starting centre X,Y in arcsec on the grid (default: the CENTERX, CENTERY keywords, else 0,0)")
	arc := fs.Float64("arc-sigma", 3, "pixels this many σ above the model are masked as arcs between passes")
	annulus := &floatList{n: 2, name: "RIN,ROUT"}
	fs.Var(annulus, "exclude-annulus", "leave the arcs' annulus RIN…ROUT arcsec from the centre out of the light fit")
	out := fs.String("out", "", "output observation (image minus the lens light; LENSLIGHT extension holds the model); a JSON summary is written beside it")
	force := addForceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "obs", "out"); err != nil {
		return err
	}
	if err := checkNewOutFile(*out, *force); err != nil {
		return err
	}
	o, err := observation.Read(*obs)
	if err != nil {
		return err
	}
	if o.PixelScale == 0 {
		return fmt.Errorf("%s: no %s keyword", *obs, observation.KeyPixScale)
	}
	if o.NoiseMap == nil && !(o.NoiseSigma > 0) {
		return fmt.Errorf("%s: no noise map and no %s", *obs, observation.KeyNoise)
	}
	opt := lenslight.Options{Profiles: *nprof, ArcSigma: *arc}
	if c, ok := o.Card("CENTERX"); ok {
		opt.CenterX, _ = c.Value.(float64)
	}
	if c, ok := o.Card("CENTERY"); ok {
		opt.CenterY, _ = c.Value.(float64)
	}
	if len(center.vals) > 0 {
		opt.CenterX, opt.CenterY = center.vals[0][0], center.vals[0][1]
	}
	if len(annulus.vals) > 0 {
		opt.Exclude = annulusMask(o.NPix, o.PixelScale, opt.CenterX, opt.CenterY, annulus.vals[0][0], annulus.vals[0][1])
	}
	fmt.Fprintf(env.stderr, "fitting %d Sérsic profile(s) to the %d×%d image…\n", *nprof, o.NPix, o.NPix)
	sub, sum, err := subtractLight(o, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", *obs, err)
	}
	sum.Observation = *obs
	if err := sub.Write(*out); err != nil {
		return err
	}
	js := *out + ".light.json"
	if err := experiment.WriteJSON(js, sum); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s and %s: %d profiles, sky %.3g, χ²_ν %.3f off %d arc pixels (%d evaluations, %.1f s)\n",
		*out, js, len(sum.Profiles), sum.Sky, sum.Chi2Nu, sum.ArcPixels, sum.Evaluations, sum.WallSeconds)
	for _, p := range sum.Profiles {
		fmt.Fprintf(env.stdout, "  Sérsic amp %.4g R %.3f″ n %.2f q %.3f φ %.3f centre (%.3f, %.3f)″\n", p.Amp, p.RSersic, p.NSersic, p.Q, p.Phi, p.CenterX, p.CenterY)
	}
	return nil
}

// annulusMask is true for the pixels of an n×n grid whose centres lie
// rin…rout arcsec from (cx, cy).
func annulusMask(n int, scale, cx, cy, rin, rout float64) []bool {
	g := lens.Grid{N: n, Scale: scale}
	m := make([]bool, n*n)
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			d := math.Hypot(g.Coord(c)-cx, g.Coord(r)-cy)
			m[r*n+c] = d >= rin && d <= rout
		}
	}
	return m
}
