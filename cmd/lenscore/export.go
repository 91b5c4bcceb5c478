package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/train"
	"github.com/lenscore/lenscore/weights"
)

// modelCard is model.json, the hyper-parameters and training record that
// accompany an exported model.safetensors.
type modelCard struct {
	Format     string       `json:"format"`
	Network    score.Config `json:"network"`
	Parameters int          `json:"parameters"`
	SigmaMin   float64      `json:"sigma_min"`
	SigmaMax   float64      `json:"sigma_max"`
	// Step is the number of training updates; the weights are the EMA.
	Step           int     `json:"step"`
	WallSeconds    float64 `json:"wall_seconds"`
	ExportedAt     string  `json:"exported_at"`
	CheckpointTime string  `json:"checkpoint_time"`
	Workers        int     `json:"workers"`

	Data     string `json:"data"`
	Excluded string `json:"excluded"`
	// Stars is "removed" when foreground stars were removed from the
	// images (train --remove-stars), else empty.
	Stars string `json:"stars,omitempty"`
	// Init names the model a fine-tuning run started from (train --init);
	// Step and WallSeconds count this run only.
	Init            string `json:"init,omitempty"`
	TrainImages     int    `json:"train_images"`
	ValImages       int    `json:"val_images"`
	DataFingerprint string `json:"data_fingerprint"`

	Training train.Config `json:"training"`

	// TrainLoss is the mean per-pixel DSM loss of the last LossWindow logged
	// training lines; ValLoss (EMA weights) and ValLossRaw are the last
	// validation losses, at step ValStep.
	TrainLoss  float64 `json:"train_loss"`
	LossWindow int     `json:"train_loss_window_lines"`
	ValLoss    float64 `json:"val_loss_ema"`
	ValLossRaw float64 `json:"val_loss_raw"`
	ValStep    int     `json:"val_step"`
}

func runExportModel(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "export-model", "--run RUNDIR --out DIR")
	run := fs.String("run", "", "training run directory (ckpt.json, ema.safetensors, train.jsonl)")
	out := fs.String("out", "", "output directory: model.safetensors, model.json, train.jsonl, loss.png")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "run", "out"); err != nil {
		return err
	}
	man, err := train.ReadManifest(*run)
	if err != nil {
		return err
	}
	emaPath := filepath.Join(*run, man.EMA)
	info, err := score.ReadModelInfo(emaPath)
	if err != nil {
		return err
	}
	if info.Step != man.Step {
		return fmt.Errorf("%s is from step %d but %s names step %d; the run is mid-checkpoint, try again", emaPath, info.Step, filepath.Join(*run, train.ManifestFile), man.Step)
	}
	g, err := nn.DefaultGemm()
	if err != nil {
		return err
	}
	net, err := score.Load(emaPath, g) // validates names, shapes and dtypes
	if err != nil {
		return err
	}
	cfg := net.Config()
	nparams := 0
	for _, p := range net.Params() {
		nparams += len(p.Data)
	}
	net.Close()
	smin, smax := info.SigmaMin, info.SigmaMax
	logPath := filepath.Join(*run, train.LogFile)
	card := modelCard{Format: "lenscore-model-card", Network: cfg, Parameters: nparams, SigmaMin: smin, SigmaMax: smax,
		Step: man.Step, WallSeconds: man.ElapsedSeconds, ExportedAt: time.Now().UTC().Format(time.RFC3339),
		CheckpointTime: man.Time, Workers: man.Workers, Data: man.Config.ModelMeta[score.MetaData], Excluded: man.Config.ModelMeta[score.MetaExcluded],
		Stars: man.Config.ModelMeta[score.MetaStars], Init: man.Config.ModelMeta[score.MetaInit], TrainImages: man.TrainImages, ValImages: man.ValImages, DataFingerprint: man.DataFingerprint, Training: man.Config}
	card.Training.ModelMeta = nil // already in Network, Data, Excluded, Stars and Init
	card.Training.Dir = ""
	logBytes, err := trainLogUpTo(logPath, man.Step, &card)
	if err != nil {
		return err
	}
	model, err := os.ReadFile(emaPath)
	if err != nil {
		return err
	}
	cj, err := json.MarshalIndent(card, "", "  ")
	if err != nil {
		return err
	}
	if err := checkOutDir(*out); err != nil {
		return err
	}
	tmpPNG := filepath.Join(*out, ".loss.png.tmp.png")
	if _, _, _, err := writeLossCurve(logPath, tmpPNG); err != nil {
		os.Remove(tmpPNG)
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"model.safetensors", model}, {"model.json", append(cj, '\n')}, {"train.jsonl", logBytes}} {
		if err := weights.WriteFileAtomic(filepath.Join(*out, f.name), f.data); err != nil {
			os.Remove(tmpPNG)
			return err
		}
	}
	if err := os.Rename(tmpPNG, filepath.Join(*out, "loss.png")); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "exported step %d (%d parameters, σ %.3g…%.4g, validation DSM loss %.4f at step %d) to %s\n",
		card.Step, card.Parameters, smin, smax, card.ValLoss, card.ValStep, *out)
	return nil
}

// trainLogUpTo returns the lines of the training log up to step (the log
// may run past the last checkpoint) and fills the card's loss summary.
func trainLogUpTo(path string, step int, card *modelCard) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keep bytes.Buffer
	var losses []float64
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	card.ValLoss, card.ValLossRaw = math.NaN(), math.NaN()
	for sc.Scan() {
		line++
		var rec struct {
			Step       int      `json:"step"`
			Loss       *float64 `json:"loss"`
			ValLoss    *float64 `json:"val_loss"`
			ValLossRaw *float64 `json:"val_loss_raw"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if rec.Step > step {
			break
		}
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
		if rec.Loss != nil {
			losses = append(losses, *rec.Loss)
		}
		if rec.ValLoss != nil && rec.ValLossRaw != nil {
			card.ValLoss, card.ValLossRaw, card.ValStep = *rec.ValLoss, *rec.ValLossRaw, rec.Step
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(losses) == 0 {
		return nil, fmt.Errorf("%s: no training loss logged up to step %d", path, step)
	}
	card.LossWindow = min(len(losses), 100)
	for _, l := range losses[len(losses)-card.LossWindow:] {
		card.TrainLoss += l / float64(card.LossWindow)
	}
	if math.IsNaN(card.ValLoss) {
		return nil, fmt.Errorf("%s: no validation loss logged up to step %d", path, step)
	}
	return keep.Bytes(), nil
}
