package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/weights"
)

// File names inside a run directory.
const (
	ManifestFile = "ckpt.json"       // written last: names the consistent checkpoint
	EMAFile      = "ema.safetensors" // EMA weights under the model's own names, for sampling
	LogFile      = "train.jsonl"     // one JSON object per logged step
	manifestKind = "lenscore-train-checkpoint"
)

// Manifest is the content of ckpt.json.
type Manifest struct {
	Format          string  `json:"format"`
	Version         int     `json:"version"`
	Step            int     `json:"step"`
	Tensors         string  `json:"tensors"` // file holding model/, ema/, adam_m/, adam_v/ tensors
	EMA             string  `json:"ema"`
	Time            string  `json:"time"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	ImageSize       int     `json:"image_size"`
	TrainImages     int     `json:"train_images"`
	ValImages       int     `json:"val_images"`
	DataFingerprint string  `json:"data_fingerprint"`
	RNG             string  `json:"rng"`
	SmoothLoss      float64 `json:"smooth_loss"`
	SmoothWeight    float64 `json:"smooth_weight"`
	// LogLossSum and LogLossSteps are the sum and count of the training
	// losses since the last train.jsonl line (the next line logs their
	// mean); absent in checkpoints of older versions.
	LogLossSum   float64 `json:"log_loss_sum,omitempty"`
	LogLossSteps int     `json:"log_loss_steps,omitempty"`
	// Workers is the model's gradient worker count (see WorkerCounter);
	// 0 when the model does not report one.
	Workers int `json:"workers,omitempty"`
	// LRChanges lists the learning-rate schedule changes made on resume
	// (Config holds the schedule now in force).
	LRChanges []LRChange `json:"lr_changes,omitempty"`
	Config    Config     `json:"config"`
}

func manifestPath(dir string) string { return filepath.Join(dir, ManifestFile) }

func (t *Trainer) elapsedNow() time.Duration {
	if t.sessionStart.IsZero() {
		return t.elapsed
	}
	return t.elapsed + time.Since(t.sessionStart)
}

// stateTensors returns views of the full training state under checkpoint
// names; loading into them writes straight into the live buffers.
func (t *Trainer) stateTensors() []*nn.Param {
	var out []*nn.Param
	for k, p := range t.params {
		out = append(out,
			&nn.Param{Name: "model/" + p.Name, Shape: p.Shape, Data: p.Data},
			t.ema[k], t.adam.M[k], t.adam.V[k])
	}
	return out
}

// Checkpoint writes the training state to Config.Dir: first
// ckpt-<step>.safetensors (weights, EMA weights, Adam moments) and
// ema.safetensors, each atomically, then the manifest ckpt.json, again
// atomically, and finally removes older ckpt-*.safetensors files. A crash
// at any moment leaves a manifest that names a complete tensor file.
func (t *Trainer) Checkpoint() error {
	dir := t.cfg.Dir
	if dir == "" {
		return fmt.Errorf("train: no checkpoint directory configured")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	name := fmt.Sprintf("ckpt-%09d.safetensors", t.step)
	step := strconv.Itoa(t.step)
	if err := weights.Save(filepath.Join(dir, name), t.stateTensors(), map[string]string{"format": manifestKind, "step": step}); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	ema := make([]*nn.Param, len(t.params))
	for k, p := range t.params {
		ema[k] = &nn.Param{Name: p.Name, Shape: p.Shape, Data: t.ema[k].Data}
	}
	meta := map[string]string{
		score.MetaStep: step, score.MetaSigmaMin: fmt.Sprint(t.ve.SigmaMin), score.MetaSigmaMax: fmt.Sprint(t.ve.SigmaMax),
		"image_size": strconv.Itoa(t.data.Size), "ema_decay": fmt.Sprint(t.cfg.EMADecay),
		MetaAugment: t.cfg.AugmentDescription(), MetaLRSchedule: t.cfg.Schedule().String(),
	}
	if len(t.lrChanges) > 0 {
		b, err := json.Marshal(t.lrChanges)
		if err != nil {
			return fmt.Errorf("train: checkpoint: %w", err)
		}
		meta[MetaLRChanges] = string(b)
	}
	for k, v := range t.cfg.ModelMeta {
		if _, clash := meta[k]; !clash {
			meta[k] = v
		}
	}
	if err := weights.Save(filepath.Join(dir, EMAFile), ema, meta); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	m := Manifest{
		Format: manifestKind, Version: 1, Step: t.step, Tensors: name, EMA: EMAFile,
		Time: time.Now().UTC().Format(time.RFC3339), ElapsedSeconds: t.elapsedNow().Seconds(),
		ImageSize: t.data.Size, TrainImages: len(t.data.Train), ValImages: len(t.data.Val),
		DataFingerprint: fmt.Sprintf("%016x", t.fprint),
		RNG:             "step s draws from PCG(seed, s); validation image j from PCG(seed, 2^63+j)",
		SmoothLoss:      t.smooth, SmoothWeight: t.smoothW, LogLossSum: t.logSum, LogLossSteps: t.logN, Workers: t.workers, LRChanges: t.lrChanges, Config: t.cfg,
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := weights.WriteFileAtomic(manifestPath(dir), append(b, '\n')); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "ckpt-*.safetensors"))
	for _, o := range old {
		if filepath.Base(o) != name {
			os.Remove(o)
		}
	}
	return nil
}

// ReadManifest reads and checks dir/ckpt.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := manifestPath(dir)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("train: checkpoint manifest %s: %v", path, err)
	}
	if m.Format != manifestKind || m.Version != 1 {
		return nil, fmt.Errorf("train: checkpoint manifest %s: format %q version %d, want %q version 1", path, m.Format, m.Version, manifestKind)
	}
	if m.Step < 0 || filepath.Base(m.Tensors) != m.Tensors || m.Tensors == "" {
		return nil, fmt.Errorf("train: checkpoint manifest %s: bad step %d or tensor file %q", path, m.Step, m.Tensors)
	}
	return &m, nil
}

// Open restores the run checkpointed in dir, with the configuration stored
// there (Config.Dir set to dir). data must be the dataset the run was
// started with (checked by fingerprint), and a model reporting its worker
// count (WorkerCounter) must have the count recorded in the manifest.
// Continuing with Run gives weights bit-identical to an uninterrupted run
// with that worker count.
func Open(dir string, m Model, data *Dataset) (*Trainer, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("train: resume %s: no dataset", dir)
	}
	if fp := fmt.Sprintf("%016x", data.Fingerprint()); fp != man.DataFingerprint || data.Size != man.ImageSize {
		return nil, fmt.Errorf("train: resume %s: the dataset differs from the checkpoint's (fingerprint %s, %d+%d images of %d² vs %s, %d+%d of %d²)",
			dir, fp, len(data.Train), len(data.Val), data.Size, man.DataFingerprint, man.TrainImages, man.ValImages, man.ImageSize)
	}
	cfg := man.Config
	cfg.Dir = dir
	t, err := New(cfg, m, data)
	if err != nil {
		return nil, fmt.Errorf("train: resume %s: %w", dir, err)
	}
	if man.Workers != 0 && t.workers != man.Workers {
		return nil, fmt.Errorf("train: resume %s: the run was trained with %d gradient workers, this model has %d; the gradients (and so the result) depend on that count: resume with GOMAXPROCS=%d",
			dir, man.Workers, t.workers, man.Workers)
	}
	meta, err := weights.Load(filepath.Join(dir, man.Tensors), t.stateTensors())
	if err != nil {
		return nil, fmt.Errorf("train: resume: %w", err)
	}
	if meta["step"] != strconv.Itoa(man.Step) {
		return nil, fmt.Errorf("train: resume %s: tensor file is for step %q, manifest says %d", dir, meta["step"], man.Step)
	}
	t.step = man.Step
	t.elapsed = time.Duration(man.ElapsedSeconds * float64(time.Second))
	t.smooth, t.smoothW = man.SmoothLoss, man.SmoothWeight
	t.logSum, t.logN = man.LogLossSum, man.LogLossSteps
	t.lrChanges = man.LRChanges
	return t, nil
}

// logEntry is one line of train.jsonl.
type logEntry struct {
	Step       int      `json:"step"`
	Time       string   `json:"time"`
	Elapsed    float64  `json:"elapsed_s"`
	LR         float64  `json:"lr"`
	Loss       float64  `json:"loss"` // mean training loss since the previous line
	GradNorm   float64  `json:"grad_norm"`
	ValLoss    *float64 `json:"val_loss,omitempty"`     // EMA weights
	ValLossRaw *float64 `json:"val_loss_raw,omitempty"` // current weights
}

// openLog opens dir/train.jsonl for appending after dropping any lines
// for steps beyond step (written after the checkpoint being resumed).
func openLog(dir string, step int) (*os.File, error) {
	path := filepath.Join(dir, LogFile)
	if b, err := os.ReadFile(path); err == nil {
		var keep bytes.Buffer
		dropped := false
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
		for sc.Scan() {
			var e struct{ Step int }
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Step > step {
				dropped = true
				continue
			}
			keep.Write(sc.Bytes())
			keep.WriteByte('\n')
		}
		if dropped {
			if err := weights.WriteFileAtomic(path, keep.Bytes()); err != nil {
				return nil, fmt.Errorf("train: log: %w", err)
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: log: %w", err)
	}
	return f, nil
}

func (t *Trainer) writeLog(f *os.File, loss, gnorm float64, val bool) error {
	e := logEntry{
		Step: t.step, Time: time.Now().UTC().Format(time.RFC3339Nano), Elapsed: t.elapsedNow().Seconds(),
		LR: t.cfg.Schedule().At(t.step), Loss: loss, GradNorm: gnorm,
	}
	if val && !math.IsNaN(t.valLoss) {
		v, r := t.valLoss, t.valLossRaw
		e.ValLoss, e.ValLossRaw = &v, &r
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("train: log: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("train: log: %w", err)
	}
	return nil
}
