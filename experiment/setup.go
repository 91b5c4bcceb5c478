package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/train"
)

// Default geometry: a 64×64 source of 0.03″ pixels (1.92″ field) seen in a
// 64×64 observation of 0.078125″ pixels (5″ field), rays traced on a 2×2
// sub-grid, Gaussian PSF of FWHM 0.12″.
const (
	DefaultSrcField    = 1.92 // arcsec, source-plane field of view
	DefaultObsField    = 5.0  // arcsec, observed field of view
	DefaultSupersample = 2
	DefaultPSFFWHM     = 0.12 // arcsec
)

// Setup is what every experiment shares: the prior and its schedule, the
// validation galaxies used as true sources, the observing geometry and the
// seed.
type Setup struct {
	Prior     posterior.Prior
	VE        sde.VE
	PriorName string

	// Side is the source side in pixels (Prior.Dim() = Side²).
	Side int
	// Galaxies are the validation galaxies (never trained on), Side×Side,
	// row-major, peak-normalised; Names labels them (may be nil).
	Galaxies [][]float64
	Names    []string
	// Sets names the data set of each galaxy (e.g. its folder; may be nil).
	// Coverage reports its tests per data set when there are several.
	Sets []string
	// Prepared says how the galaxies were prepared beyond the standard
	// normalisation (e.g. "stars removed", see PreparedNote); coverage
	// records it with its truths. The galaxies should be prepared as the
	// prior's training images were: a prior trained on clipped skies has
	// never seen a negative pixel, one trained with the sky kept expects
	// sky noise around 0.
	Prepared string

	// SrcScale and PixScale are the source and observed pixel sizes in
	// arcsec; zero selects DefaultSrcField/Side and DefaultObsField/NPix
	// (0.03″ and 0.078125″ at 64 pixels).
	SrcScale, PixScale float64
	// NPix is the observed image side (0: Side); Supersample the rays per
	// pixel side (0: 2).
	NPix, Supersample int
	// PSFFWHM is the FWHM of the Gaussian PSF in arcsec: 0 selects
	// DefaultPSFFWHM, a negative value means no PSF.
	PSFFWHM float64

	// Seed makes every experiment deterministic.
	Seed uint64
	// Progress receives stage lines and the samplers' progress (nil: none).
	Progress io.Writer
	// Workers bounds the sampler's likelihood goroutines (0: GOMAXPROCS).
	Workers int
	// Proxy is the stationary Gaussian proxy of the prior that the
	// projected likelihood needs (posterior.FitGRF of training images); nil with a
	// GRF prior means the prior itself.
	Proxy *posterior.GRF
}

// proxy returns Setup.Proxy, or the prior when it is a GRF, or nil.
func (s *Setup) proxy() *posterior.GRF {
	if s.Proxy != nil {
		return s.Proxy
	}
	g, _ := s.Prior.(*posterior.GRF)
	return g
}

// normalized returns a copy of s with the defaults filled in, or an error
// naming the bad field.
func (s Setup) normalized() (Setup, error) {
	if s.Prior == nil {
		return s, errors.New("experiment: Setup.Prior is nil")
	}
	if s.Side <= 0 {
		n := int(math.Round(math.Sqrt(float64(s.Prior.Dim()))))
		if n*n != s.Prior.Dim() {
			return s, fmt.Errorf("experiment: Setup.Side not set and prior dimension %d is not a square", s.Prior.Dim())
		}
		s.Side = n
	}
	if s.Prior.Dim() != s.Side*s.Side {
		return s, fmt.Errorf("experiment: prior has %d pixels, Setup.Side %d needs %d", s.Prior.Dim(), s.Side, s.Side*s.Side)
	}
	if err := s.VE.Validate(); err != nil {
		return s, fmt.Errorf("experiment: Setup.VE: %w", err)
	}
	if s.NPix == 0 {
		s.NPix = s.Side
	}
	if s.NPix < 2 {
		return s, fmt.Errorf("experiment: Setup.NPix must be ≥ 2, got %d", s.NPix)
	}
	if s.Supersample == 0 {
		s.Supersample = DefaultSupersample
	}
	if s.Supersample < 1 {
		return s, fmt.Errorf("experiment: Setup.Supersample must be ≥ 1, got %d", s.Supersample)
	}
	if s.SrcScale == 0 {
		s.SrcScale = DefaultSrcField / float64(s.Side)
	}
	if s.PixScale == 0 {
		s.PixScale = DefaultObsField / float64(s.NPix)
	}
	if !(s.SrcScale > 0) || !(s.PixScale > 0) || math.IsInf(s.SrcScale, 0) || math.IsInf(s.PixScale, 0) {
		return s, fmt.Errorf("experiment: Setup.SrcScale and PixScale must be positive and finite, got %g and %g", s.SrcScale, s.PixScale)
	}
	if s.PSFFWHM == 0 {
		s.PSFFWHM = DefaultPSFFWHM
	}
	if math.IsNaN(s.PSFFWHM) {
		return s, errors.New("experiment: Setup.PSFFWHM is NaN")
	}
	for i, g := range s.Galaxies {
		if len(g) != s.Side*s.Side {
			return s, fmt.Errorf("experiment: Setup.Galaxies[%d] (%s) has %d pixels, want %d", i, s.name(i), len(g), s.Side*s.Side)
		}
		for _, v := range g {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return s, fmt.Errorf("experiment: Setup.Galaxies[%d] (%s) has a non-finite pixel", i, s.name(i))
			}
		}
	}
	if s.PriorName == "" {
		s.PriorName = "prior"
	}
	return s, nil
}

func (s *Setup) name(i int) string {
	if i < len(s.Names) && s.Names[i] != "" {
		return s.Names[i]
	}
	return fmt.Sprintf("galaxy %d", i)
}

func (s *Setup) logf(format string, args ...any) {
	if s.Progress != nil {
		fmt.Fprintf(s.Progress, "experiment: "+format+"\n", args...)
	}
}

func (s *Setup) needGalaxies(what string) error {
	if len(s.Galaxies) == 0 {
		return fmt.Errorf("experiment: %s needs validation galaxies (Setup.Galaxies is empty)", what)
	}
	return nil
}

// LensParams are the parameters of an SIE plus external shear lens
// (arcsec and radians, lenstronomy conventions, see package lens).
type LensParams struct {
	ThetaE  float64 `json:"theta_e"`
	Q       float64 `json:"q"`
	Phi     float64 `json:"phi"`
	CenterX float64 `json:"center_x"`
	CenterY float64 `json:"center_y"`
	Gamma1  float64 `json:"gamma1"`
	Gamma2  float64 `json:"gamma2"`
}

// DefaultLens is the fixed lens of fig. 1 and fig. 2 (the demo lens).
var DefaultLens = LensParams{ThetaE: 1.1, Q: 0.75, Phi: 0.6, Gamma1: 0.02, Gamma2: -0.01}

// Mass returns the SIE + shear mass model.
func (p LensParams) Mass() lens.Composite {
	return lens.Composite{
		lens.SIE{ThetaE: p.ThetaE, Q: p.Q, Phi: p.Phi, CenterX: p.CenterX, CenterY: p.CenterY},
		lens.Shear{Gamma1: p.Gamma1, Gamma2: p.Gamma2},
	}
}

// RandomLens draws lens parameters uniformly in the ranges used by the
// coverage and step experiments: θ_E ∈ [0.8, 1.3]″, q ∈ [0.6, 0.95],
// φ ∈ [0, π), centre in [−0.05, 0.05]″², γ1, γ2 ∈ [−0.05, 0.05].
func RandomLens(r *rand.Rand) LensParams {
	u := func(a, b float64) float64 { return a + (b-a)*r.Float64() }
	return LensParams{
		ThetaE:  u(0.8, 1.3),
		Q:       u(0.6, 0.95),
		Phi:     u(0, math.Pi),
		CenterX: u(-0.05, 0.05),
		CenterY: u(-0.05, 0.05),
		Gamma1:  u(-0.05, 0.05),
		Gamma2:  u(-0.05, 0.05),
	}
}

// Stream tags separate the random streams of the experiments.
const (
	tagFig1 = iota + 1
	tagFig2
	tagCoverage
	tagSteps
	tagPrior
	tagLens
	tagNoise
	tagSampler
	tagTruth
	tagTARP
	tagDSM
	tagStatRanks
)

// seedFor derives an independent 64-bit seed from the setup seed, an
// experiment tag, a stream tag and an index (SplitMix64 finaliser).
func seedFor(seed uint64, parts ...uint64) uint64 {
	h := seed ^ 0x9e3779b97f4a7c15
	for _, p := range parts {
		h += 0x9e3779b97f4a7c15 + p
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9
		h = (h ^ (h >> 27)) * 0x94d049bb133111eb
		h ^= h >> 31
	}
	return h
}

// problem is one simulated observation y = A x + η.
type problem struct {
	params LensParams
	op     *lens.Operator
	truth  []float64
	clean  []float64 // A x
	y      []float64
	sigmaN float64
	lik    *posterior.Convolved
}

// psf returns the PSF of the setup (nil when disabled).
func (s *Setup) psf() (*lens.PSF, error) {
	if s.PSFFWHM < 0 {
		return nil, nil
	}
	p, err := lens.GaussianPSF(s.PSFFWHM, s.PixScale, 0)
	if err != nil {
		return nil, fmt.Errorf("experiment: PSF: %w", err)
	}
	return p, nil
}

// operator builds A for lens parameters p.
func (s *Setup) operator(p LensParams) (*lens.Operator, error) {
	psf, err := s.psf()
	if err != nil {
		return nil, err
	}
	op, err := lens.NewOperator(p.Mass(), lens.Config{
		Obs:         lens.Grid{N: s.NPix, Scale: s.PixScale},
		Src:         lens.Grid{N: s.Side, Scale: s.SrcScale},
		Supersample: s.Supersample,
		PSF:         psf,
	})
	if err != nil {
		return nil, fmt.Errorf("experiment: lens operator: %w", err)
	}
	return op, nil
}

// simulate observes truth through lens p with σ_n = frac · max(A x) and
// noise drawn with noiseSeed.
func (s *Setup) simulate(truth []float64, p LensParams, frac float64, noiseSeed uint64) (*problem, error) {
	if !(frac > 0) || math.IsInf(frac, 0) {
		return nil, fmt.Errorf("experiment: noise fraction must be positive and finite, got %g", frac)
	}
	op, err := s.operator(p)
	if err != nil {
		return nil, err
	}
	m, _ := op.Dims()
	clean := make([]float64, m)
	op.Apply(clean, truth)
	peak := maxOf(clean)
	if !(peak > 0) {
		return nil, errors.New("experiment: the lensed image of the source has no positive pixel (source outside the caustics' reach?)")
	}
	sigma := frac * peak
	y := append([]float64(nil), clean...)
	if err := lens.AddNoise(y, sigma, noiseSeed); err != nil {
		return nil, fmt.Errorf("experiment: noise: %w", err)
	}
	lik, err := posterior.NewConvolved(op, y, []float64{sigma}, nil, s.VE.Sigma)
	if err != nil {
		return nil, fmt.Errorf("experiment: likelihood: %w", err)
	}
	return &problem{params: p, op: op, truth: truth, clean: clean, y: y, sigmaN: sigma, lik: lik}, nil
}

// sampleOpts are the sampler settings of one run.
type sampleOpts struct {
	Steps     int
	Sampler   string
	Corrector int
	SNR       float64
	Denoise   bool
	Chains    int
	Seed      uint64
	// PriorJacobian: posterior.Options.PriorJacobian (needs a likelihood)
	PriorJacobian bool
	JacobianBelow float64
}

func (s *Setup) sample(ctx context.Context, lik posterior.Likelihood, o sampleOpts) (*posterior.Result, time.Duration, error) {
	start := time.Now()
	res, err := posterior.Sample(ctx, s.Prior, lik, s.VE, posterior.Options{
		Steps:         o.Steps,
		Sampler:       o.Sampler,
		Corrector:     o.Corrector,
		SNR:           o.SNR,
		Denoise:       o.Denoise,
		Seed:          o.Seed,
		Chains:        o.Chains,
		Workers:       s.Workers,
		PriorJacobian: o.PriorJacobian && lik != nil,
		JacobianBelow: o.JacobianBelow,
		Progress:      s.Progress,
	})
	if err != nil {
		return nil, 0, fmt.Errorf("experiment: sampling: %w", err)
	}
	return res, time.Since(start), nil
}

// Timing is the cost of one sampling run.
type Timing struct {
	Steps        int     `json:"steps"`
	NFE          int     `json:"nfe"`
	WallSeconds  float64 `json:"wall_seconds"`
	PriorSeconds float64 `json:"prior_seconds"`
	OtherSeconds float64 `json:"other_seconds"`
}

func timingOf(r *posterior.Result, wall time.Duration) Timing {
	return Timing{Steps: r.Steps, NFE: r.NFE, WallSeconds: wall.Seconds(),
		PriorSeconds: r.PriorTime.Seconds(), OtherSeconds: r.OtherTime.Seconds()}
}

// chi2 returns χ²_ν of every sample and of the mean, and the images A·x.
func chi2All(p *problem, samples [][]float64, mean []float64) (per []float64, ofMean float64, err error) {
	m, _ := p.op.Dims()
	buf := make([]float64, m)
	nz := diag.Noise{Sigma: p.sigmaN}
	per = make([]float64, len(samples))
	for k, x := range samples {
		if per[k], _, err = diag.ChiSquaredNu(p.op, p.y, x, buf, nz); err != nil {
			return nil, 0, err
		}
	}
	if mean != nil {
		if ofMean, _, err = diag.ChiSquaredNu(p.op, p.y, mean, buf, nz); err != nil {
			return nil, 0, err
		}
	}
	return per, ofMean, nil
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		if x > m {
			m = x
		}
	}
	return m
}

func meanOf(v []float64) float64 {
	s, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

func apply(op *lens.Operator, x []float64) []float64 {
	m, _ := op.Dims()
	d := make([]float64, m)
	op.Apply(d, x)
	return d
}

func prepareDir(dir string) error {
	if dir == "" {
		return errors.New("experiment: output directory not given")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	return nil
}

func checkCtx(ctx context.Context, stage string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("experiment: %s: %w", stage, err)
	}
	return nil
}

func join(dir, name string) string { return filepath.Join(dir, name) }

// Galaxies converts dataset images (e.g. train.Dataset.Val, which is never
// trained on) to float64 sources scaled to peak 1, with their names and
// data sets (SourceLabel of train.Image.Source). It skips images without a
// positive pixel and returns at most limit images (all when limit ≤ 0).
func Galaxies(imgs []train.Image, limit int) (gals [][]float64, names, sets []string) {
	for _, im := range imgs {
		if limit > 0 && len(gals) == limit {
			break
		}
		peak := 0.0
		for _, v := range im.Pix {
			peak = math.Max(peak, float64(v))
		}
		if !(peak > 0) || math.IsInf(peak, 0) {
			continue
		}
		x := make([]float64, len(im.Pix))
		for i, v := range im.Pix {
			x[i] = float64(v) / peak
		}
		gals = append(gals, x)
		names = append(names, im.Name)
		sets = append(sets, SourceLabel(im.Source))
	}
	return gals, names, sets
}

// SourceLabel shortens a data folder to its last two path elements
// ("../shared/data/galaxies/gz_decals/r_crop256" → "gz_decals/r_crop256").
func SourceLabel(dir string) string {
	if dir == "" {
		return ""
	}
	dir = filepath.Clean(dir)
	parent := filepath.Base(filepath.Dir(dir))
	if parent == "." || parent == string(filepath.Separator) || parent == ".." {
		return filepath.Base(dir)
	}
	return parent + "/" + filepath.Base(dir)
}

// PreparedNote describes a preparation of the validation galaxies for
// Setup.Prepared: "stars removed" or "stars kept", then ", sky kept" or
// ", sky denoised" when the sky was not clipped at zero (sky is
// train.SkyModeClipped, SkyModeKept or SkyModeDenoised, model metadata
// train.MetaSky).
func PreparedNote(starsRemoved bool, sky string) string {
	note := "stars kept"
	if starsRemoved {
		note = "stars removed"
	}
	if sky != "" && sky != train.SkyModeClipped {
		note += ", sky " + sky
	}
	return note
}
