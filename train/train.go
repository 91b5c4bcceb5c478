package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/progress"
	"github.com/lenscore/lenscore/sde"
)

// Model is a noise-conditional network ε_θ(x, σ) trained by this package.
// score.Net satisfies it.
type Model interface {
	// Params returns the trainable tensors, in a fixed order.
	Params() []*nn.Param
	// Forward returns ε_θ(x, σ) for a batch of batch images of 1×H×W pixels
	// stored one after the other in x, with one noise level per image;
	// batch never exceeds Config.BatchSize but may be smaller (the last
	// validation chunk). The returned slice may be an internal buffer valid
	// until the next call.
	Forward(x, sigma []float32, batch int) []float32
	// Backward accumulates into Param.Grad the gradient of a loss whose
	// gradient with respect to the last Forward's output is dout.
	Backward(dout []float32)
}

// WorkerCounter is implemented by models whose gradient depends on how
// many goroutines split a batch (score.Net: each worker sums float32
// gradients over its share of the images, so the rounding depends on the
// split). The trainer records the count in the checkpoint manifest and
// Open refuses to continue a run with a different count.
type WorkerCounter interface {
	Workers() int
}

// Config holds every training setting. Start from DefaultConfig; the zero
// value of a field is taken literally (e.g. WarmupSteps 0 means no warm-up).
type Config struct {
	Steps       int     `json:"steps"`        // total number of updates
	BatchSize   int     `json:"batch_size"`   // images per update
	LR          float64 `json:"lr"`           // Adam learning rate after warm-up
	WarmupSteps int     `json:"warmup_steps"` // linear warm-up length (0: none)
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	AdamEps     float64 `json:"adam_eps"`
	ClipNorm    float64 `json:"clip_norm"` // global gradient-norm bound (0: no clipping)
	EMADecay    float64 `json:"ema_decay"` // decay of the weight average used for sampling
	Seed        uint64  `json:"seed"`
	SigmaMin    float64 `json:"sigma_min"`
	SigmaMax    float64 `json:"sigma_max"` // 0: largest pairwise distance of the training images
	TMin        float64 `json:"t_min"`     // t ~ U(TMin, 1)
	Augment     bool    `json:"augment"`   // random dihedral transform of each example
	// Shift > 0 shifts each example by (dx, dy) ~ U(−Shift, Shift)² pixels
	// and Scale > 0 magnifies it by a = (1+Scale)^u, u ~ U(−1, 1), about
	// the centre, both flux-conserving (Affine); at most Size/4 pixels and
	// MaxScale.
	Shift float64 `json:"shift,omitempty"`
	Scale float64 `json:"scale,omitempty"`
	// LRDecay ("", "cosine" or "linear") lowers the rate from LR after
	// update LRDecayStart to LRMin at update LRDecayEnd (0: Steps, filled
	// in by New); see LRSchedule. A resumed run keeps it unless changed
	// with Trainer.ChangeSchedule, which the manifest then records.
	LRDecay      string  `json:"lr_decay,omitempty"`
	LRDecayStart int     `json:"lr_decay_start,omitempty"`
	LRDecayEnd   int     `json:"lr_decay_end,omitempty"`
	LRMin        float64 `json:"lr_min,omitempty"`

	Dir               string  `json:"-"`                  // checkpoint and log directory ("" : none)
	CheckpointEvery   int     `json:"checkpoint_every"`   // steps between checkpoints (0: only at the end)
	CheckpointMinutes float64 `json:"checkpoint_minutes"` // wall time between checkpoints (0: off)
	ValEvery          int     `json:"val_every"`          // steps between validation losses (0: only at the end)
	ValMax            int     `json:"val_max"`            // at most this many validation images (0: all)
	LogEvery          int     `json:"log_every"`          // steps between log lines

	// ModelMeta is copied into the metadata of ema.safetensors (keys the
	// trainer sets itself win), e.g. the network's configuration, so that
	// file is a complete model for sampling.
	ModelMeta map[string]string `json:"model_meta,omitempty"`
}

// DefaultConfig returns the NCSN++-like defaults (Song et al. 2021).
func DefaultConfig() Config {
	return Config{
		Steps: 100000, BatchSize: 16, LR: 2e-4, WarmupSteps: 5000,
		Beta1: 0.9, Beta2: 0.999, AdamEps: 1e-8, ClipNorm: 1, EMADecay: 0.999,
		Seed: 1, SigmaMin: sde.DefaultSigmaMin, TMin: 1e-5, Augment: true,
		CheckpointEvery: 1000, CheckpointMinutes: 10, ValEvery: 500, ValMax: 256, LogEvery: 10,
	}
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	bad := func(field string, v any) error {
		return fmt.Errorf("train: config field %s has unusable value %v", field, v)
	}
	switch {
	case c.Steps < 1:
		return fmt.Errorf("train: config field Steps is %d; a run needs at least one update", c.Steps)
	case c.BatchSize < 1:
		return bad("BatchSize", c.BatchSize)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return bad("Beta1", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return bad("Beta2", c.Beta2)
	case !(c.AdamEps > 0):
		return bad("AdamEps", c.AdamEps)
	case !(c.ClipNorm >= 0):
		return bad("ClipNorm", c.ClipNorm)
	case !(c.EMADecay >= 0 && c.EMADecay < 1):
		return bad("EMADecay", c.EMADecay)
	case !(c.SigmaMin > 0):
		return bad("SigmaMin", c.SigmaMin)
	case !(c.SigmaMax == 0 || c.SigmaMax > c.SigmaMin) || math.IsInf(c.SigmaMax, 0):
		return bad("SigmaMax", c.SigmaMax)
	case !(c.TMin >= 0 && c.TMin < 1):
		return bad("TMin", c.TMin)
	case c.CheckpointEvery < 0:
		return bad("CheckpointEvery", c.CheckpointEvery)
	case !(c.CheckpointMinutes >= 0):
		return bad("CheckpointMinutes", c.CheckpointMinutes)
	case c.ValEvery < 0:
		return bad("ValEvery", c.ValEvery)
	case c.ValMax < 0:
		return bad("ValMax", c.ValMax)
	case c.LogEvery < 1:
		return bad("LogEvery", c.LogEvery)
	case !(c.Shift >= 0) || math.IsInf(c.Shift, 0):
		return bad("Shift", c.Shift)
	case !(c.Scale >= 0 && c.Scale <= MaxScale):
		return bad("Scale", c.Scale)
	}
	return c.Schedule().Validate(c.Steps)
}

// maxSigmaImages bounds the number of training images used to estimate
// σ_max (the estimate costs O(m² n)).
const maxSigmaImages = 1000

// Trainer runs denoising score matching on a Model.
type Trainer struct {
	cfg          Config
	workers      int // the model's WorkerCounter count (0: not reported)
	model        Model
	data         *Dataset
	params       []*nn.Param
	ema          []*nn.Param
	adam         *Adam
	ve           sde.VE
	step         int // completed updates
	fprint       uint64
	pixels       int
	elapsed      time.Duration // training wall time of earlier sessions
	sessionStart time.Time     // start of the current Run (zero outside Run)

	// per-step buffers, allocated once
	pcg        *rand.PCG
	rng        *rand.Rand
	x, z, sig  []float32
	dout       []float32
	aug        []float32 // the dihedral transform of an image, before Affine
	affine     *Affine   // nil without shifts and scalings
	backup     [][]float32
	valX, valZ []float32
	valSig     []float32

	smooth, smoothW float64 // bias-corrected running loss for the progress line
	// logSum, logN: the training losses of the updates since the last
	// train.jsonl line, whose mean the next line logs; checkpointed, so a
	// resumed run logs what an uninterrupted one does.
	logSum     float64
	logN       int
	valLoss    float64 // last validation loss (EMA weights), NaN if none
	valLossRaw float64 // last validation loss (current weights)
	onStep     func(step int)
	lrChanges  []LRChange // schedule changes made on resume (ckpt.json lr_changes)
}

// New prepares a fresh training run. When cfg.SigmaMax is zero it is set to
// the largest pairwise Euclidean distance between training images (at most
// the first 1000 by name).
func New(cfg Config, m Model, data *Dataset) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.LRDecay != DecayNone && cfg.LRDecayEnd == 0 {
		cfg.LRDecayEnd = cfg.Steps
	}
	if data == nil || len(data.Train) == 0 {
		return nil, errors.New("train: no training images")
	}
	if cfg.SigmaMax == 0 {
		imgs := make([][]float32, 0, min(len(data.Train), maxSigmaImages))
		for _, im := range data.Train[:min(len(data.Train), maxSigmaImages)] {
			imgs = append(imgs, im.Pix)
		}
		s, err := sde.SigmaMaxFromData(imgs)
		if err != nil {
			return nil, fmt.Errorf("train: estimating sigma_max: %w", err)
		}
		cfg.SigmaMax = s
	}
	ve, err := sde.NewVE(cfg.SigmaMin, cfg.SigmaMax)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	t := &Trainer{cfg: cfg, model: m, data: data, ve: ve, params: m.Params(), fprint: data.Fingerprint(),
		pixels: data.Size * data.Size, valLoss: math.NaN(), valLossRaw: math.NaN()}
	seen := map[string]bool{}
	for _, p := range t.params {
		if seen[p.Name] {
			return nil, fmt.Errorf("train: duplicate parameter name %q", p.Name)
		}
		seen[p.Name] = true
		if len(p.Grad) != len(p.Data) {
			return nil, fmt.Errorf("train: parameter %q has %d values but %d gradients", p.Name, len(p.Data), len(p.Grad))
		}
		e := nn.NewParam("ema/"+p.Name, p.Shape...)
		copy(e.Data, p.Data)
		t.ema = append(t.ema, e)
		t.backup = append(t.backup, make([]float32, len(p.Data)))
	}
	for _, im := range append(append([]Image(nil), data.Train...), data.Val...) {
		if len(im.Pix) != t.pixels {
			return nil, fmt.Errorf("train: image %s has %d pixels, want %d", im.Name, len(im.Pix), t.pixels)
		}
	}
	if wc, ok := m.(WorkerCounter); ok {
		t.workers = wc.Workers()
	}
	if cfg.Shift > float64(data.Size)/4 {
		return nil, fmt.Errorf("train: config field Shift is %g pixels, more than a quarter of the %d-pixel images", cfg.Shift, data.Size)
	}
	t.aug = make([]float32, t.pixels)
	if cfg.Shift > 0 || cfg.Scale > 0 {
		t.affine = NewAffine(data.Size)
	}
	t.adam = NewAdam(t.params, cfg.Beta1, cfg.Beta2, cfg.AdamEps)
	t.pcg = rand.NewPCG(cfg.Seed, 0)
	t.rng = rand.New(t.pcg)
	b := cfg.BatchSize
	t.x = make([]float32, b*t.pixels)
	t.z = make([]float32, b*t.pixels)
	t.dout = make([]float32, b*t.pixels)
	t.sig = make([]float32, b)
	t.prepareValidation()
	return t, nil
}

// valStream separates the validation draws from the per-step streams.
const valStream = 1 << 63

// prepareValidation draws the fixed validation noise: image j gets
// t_j ~ U(TMin, 1) and z_j ~ N(0, I) from PCG(seed, 2⁶³ + j).
func (t *Trainer) prepareValidation() {
	val := t.data.Val
	if t.cfg.ValMax > 0 && len(val) > t.cfg.ValMax {
		val = val[:t.cfg.ValMax]
	}
	n := t.pixels
	t.valX = make([]float32, len(val)*n)
	t.valZ = make([]float32, len(val)*n)
	t.valSig = make([]float32, len(val))
	for j, im := range val {
		r := rand.New(rand.NewPCG(t.cfg.Seed, valStream+uint64(j)))
		tt := t.cfg.TMin + (1-t.cfg.TMin)*r.Float64()
		s := float32(t.ve.Sigma(tt))
		t.valSig[j] = s
		for i, v := range im.Pix {
			z := float32(r.NormFloat64())
			t.valZ[j*n+i] = z
			t.valX[j*n+i] = v + s*z
		}
	}
}

// Config returns the run's configuration (with σ_max filled in).
func (t *Trainer) Config() Config { return t.cfg }

// Step returns the number of completed updates.
func (t *Trainer) Step() int { return t.step }

// SetSteps changes the total number of updates (e.g. to extend a resumed
// run); it does not affect the trajectory of the updates.
func (t *Trainer) SetSteps(n int) { t.cfg.Steps = n }

// Params returns the model's parameters; EMAParams the moving average
// (named "ema/<name>"), which is what sampling should use.
func (t *Trainer) Params() []*nn.Param    { return t.params }
func (t *Trainer) EMAParams() []*nn.Param { return t.ema }

// DSMLoss returns the per-pixel denoising score-matching loss
// L = Σ (ε + z)² / len(eps) of a batch and writes its gradient
// ∂L/∂ε = 2(ε + z)/len(eps) into dout.
func DSMLoss(eps, z, dout []float32) float64 {
	inv := 1 / float64(len(eps))
	var s float64
	for i, e := range eps {
		d := float64(e) + float64(z[i])
		s += d * d
		dout[i] = float32(2 * d * inv)
	}
	return s * inv
}

// TrainStep performs update number Step()+1 and returns its loss and the
// gradient norm before clipping. All its randomness comes from
// PCG(seed, step): for each example, in order, the image index, the
// dihedral transform (if Augment), the shift dx then dy (if Shift > 0),
// the magnification (if Scale > 0), t, then the pixels of z.
func (t *Trainer) TrainStep() (loss, gradNorm float64, err error) {
	s := t.step + 1
	b, n := t.cfg.BatchSize, t.pixels
	t.pcg.Seed(t.cfg.Seed, uint64(s))
	train := t.data.Train
	for k := range b {
		im := train[t.rng.IntN(len(train))]
		x := t.x[k*n : (k+1)*n]
		src := im.Pix
		if t.cfg.Augment {
			Dihedral(t.aug, src, t.data.Size, t.rng.IntN(8))
			src = t.aug
		}
		if t.affine != nil {
			var dx, dy float64
			scale := 1.0
			if t.cfg.Shift > 0 {
				dx = t.cfg.Shift * (2*t.rng.Float64() - 1)
				dy = t.cfg.Shift * (2*t.rng.Float64() - 1)
			}
			if t.cfg.Scale > 0 {
				scale = math.Pow(1+t.cfg.Scale, 2*t.rng.Float64()-1)
			}
			if err := t.affine.Set(scale, dx, dy); err != nil {
				return 0, 0, err
			}
			t.affine.Apply(x, src)
		} else {
			copy(x, src)
		}
		tt := t.cfg.TMin + (1-t.cfg.TMin)*t.rng.Float64()
		sigma := float32(t.ve.Sigma(tt))
		t.sig[k] = sigma
		z := t.z[k*n : (k+1)*n]
		for i := range z {
			z[i] = float32(t.rng.NormFloat64())
			x[i] += sigma * z[i]
		}
	}
	eps := t.model.Forward(t.x, t.sig, b)
	if len(eps) != b*n {
		return 0, 0, fmt.Errorf("train: model returned %d values for %d images of %d pixels", len(eps), b, n)
	}
	loss = DSMLoss(eps, t.z, t.dout)
	for _, p := range t.params {
		p.ZeroGrad()
	}
	t.model.Backward(t.dout)
	gradNorm = ClipGradients(t.params, t.cfg.ClipNorm)
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(gradNorm) || math.IsInf(gradNorm, 0) {
		return loss, gradNorm, fmt.Errorf("train: non-finite loss %g or gradient norm %g at step %d; parameters not updated", loss, gradNorm, s)
	}
	t.adam.Step(t.params, t.cfg.Schedule().At(s), s)
	UpdateEMA(t.ema, t.params, EMADecayAt(t.cfg.EMADecay, s))
	t.step = s
	return loss, gradNorm, nil
}

// ValLoss returns the DSM loss on the held-out images with the fixed
// noise draws, evaluated with the EMA weights and with the current
// weights. Both are NaN when there are no validation images.
func (t *Trainer) ValLoss() (emaLoss, rawLoss float64, err error) {
	if len(t.valSig) == 0 {
		return math.NaN(), math.NaN(), nil
	}
	if rawLoss, err = t.valLossOf(); err != nil {
		return
	}
	for k, p := range t.params {
		copy(t.backup[k], p.Data)
		copy(p.Data, t.ema[k].Data)
	}
	emaLoss, err = t.valLossOf()
	for k, p := range t.params {
		copy(p.Data, t.backup[k])
	}
	return
}

func (t *Trainer) valLossOf() (float64, error) {
	n, b := t.pixels, t.cfg.BatchSize
	var sum float64
	total := len(t.valSig)
	for lo := 0; lo < total; lo += b {
		hi := min(lo+b, total)
		eps := t.model.Forward(t.valX[lo*n:hi*n], t.valSig[lo:hi], hi-lo)
		if len(eps) != (hi-lo)*n {
			return 0, fmt.Errorf("train: model returned %d values for %d images of %d pixels", len(eps), hi-lo, n)
		}
		sum += DSMLoss(eps, t.valZ[lo*n:hi*n], t.dout[:(hi-lo)*n]) * float64(hi-lo)
	}
	return sum / float64(total), nil
}

// Run trains until Config.Steps updates are done, writing checkpoints, the
// JSONL log and validation losses as configured, and a progress line to
// progress (nil: none). When ctx is cancelled it finishes the current
// update, writes a checkpoint and returns ctx.Err().
func (t *Trainer) Run(ctx context.Context, progress io.Writer) error {
	var log *os.File
	if t.cfg.Dir != "" {
		if err := os.MkdirAll(t.cfg.Dir, 0o755); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		var err error
		if log, err = openLog(t.cfg.Dir, t.step); err != nil {
			return err
		}
		defer log.Close()
	}
	start := time.Now()
	t.sessionStart = start
	defer func() { t.elapsed += time.Since(start); t.sessionStart = time.Time{} }()
	lastCkpt := start
	var bar *progressBar
	if progress != nil {
		bar = newProgressBar(progress, t.step, t.cfg.Steps)
	}
	draw := func(force bool) {
		if bar == nil {
			return
		}
		fields := t.progressFields()
		if force {
			bar.Final(t.step, fields...)
			return
		}
		bar.Update(t.step, fields...)
	}
	for t.step < t.cfg.Steps {
		if ctx.Err() != nil {
			break
		}
		loss, gnorm, err := t.TrainStep()
		if err != nil {
			return err
		}
		s := t.step
		const alpha = 0.02
		t.smooth = (1-alpha)*t.smooth + alpha*loss
		t.smoothW = (1-alpha)*t.smoothW + alpha
		t.logSum += loss
		t.logN++
		last := s == t.cfg.Steps
		val := (t.cfg.ValEvery > 0 && s%t.cfg.ValEvery == 0) || last
		if val {
			if t.valLoss, t.valLossRaw, err = t.ValLoss(); err != nil {
				return err
			}
		}
		if log != nil && (s%t.cfg.LogEvery == 0 || val || last) {
			if err := t.writeLog(log, t.logSum/float64(t.logN), gnorm, val); err != nil {
				return err
			}
			t.logSum, t.logN = 0, 0
		}
		if t.cfg.Dir != "" && !last && ((t.cfg.CheckpointEvery > 0 && s%t.cfg.CheckpointEvery == 0) ||
			(t.cfg.CheckpointMinutes > 0 && time.Since(lastCkpt).Minutes() >= t.cfg.CheckpointMinutes)) {
			if err := t.Checkpoint(); err != nil {
				return err
			}
			lastCkpt = time.Now()
		}
		if t.onStep != nil {
			t.onStep(s)
		}
		draw(false)
	}
	if t.cfg.Dir != "" {
		if err := t.Checkpoint(); err != nil {
			return err
		}
	}
	draw(true)
	if t.step < t.cfg.Steps {
		return ctx.Err()
	}
	return nil
}

// progressFields are the training-specific parts of the progress line.
func (t *Trainer) progressFields() []string {
	loss := "-"
	if t.smoothW > 0 {
		loss = fmt.Sprintf("%.4f", t.smooth/t.smoothW)
	}
	val := "-"
	if !math.IsNaN(t.valLoss) {
		val = fmt.Sprintf("%.4f", t.valLoss)
	}
	return []string{"loss " + loss, "val " + val}
}

// Run starts a fresh training run (see Trainer.Run). It refuses to start
// if cfg.Dir already holds a checkpoint; use Resume for that.
func Run(ctx context.Context, cfg Config, m Model, data *Dataset, progress io.Writer) error {
	if cfg.Dir != "" {
		if _, err := os.Stat(manifestPath(cfg.Dir)); err == nil {
			return fmt.Errorf("train: %s already holds a checkpoint; resume it or choose another directory", cfg.Dir)
		}
	}
	t, err := New(cfg, m, data)
	if err != nil {
		return err
	}
	return t.Run(ctx, progress)
}

// Resume continues the run checkpointed in dir (see Open) up to steps
// updates (0: the checkpoint's own total).
func Resume(ctx context.Context, dir string, steps int, m Model, data *Dataset, progress io.Writer) error {
	t, err := Open(dir, m, data)
	if err != nil {
		return err
	}
	if steps > 0 {
		t.SetSteps(steps)
	}
	if t.step >= t.cfg.Steps {
		return fmt.Errorf("train: resume %s: the run is already at step %d of %d; give a larger total number of steps to extend it", dir, t.step, t.cfg.Steps)
	}
	return t.Run(ctx, progress)
}

// progressBar wraps progress.Bar so that the final line is always printed.
type progressBar struct {
	*progress.Bar
	total int
}

func newProgressBar(w io.Writer, done, total int) *progressBar {
	return &progressBar{Bar: progress.New(w, "train", done, total), total: total}
}

// Final prints the line for step done even when the job stopped early.
func (b *progressBar) Final(done int, fields ...string) {
	b.Bar.Force(done, fields...)
}
