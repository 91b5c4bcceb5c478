package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/train"
)

// runLossCurve plots the training and validation DSM loss of a run.
func runLossCurve(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "loss-curve", "--run RUNDIR [--out loss.png]")
	run := fs.String("run", "", "training run directory (holds train.jsonl)")
	out := fs.String("out", "", "output PNG (default RUNDIR/loss.png)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "run"); err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*run, "loss.png")
	}
	nt, nv, last, err := writeLossCurve(filepath.Join(*run, train.LogFile), *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s (%d training points, %d validation points, last step %d)\n", *out, nt, nv, last)
	return nil
}

// writeLossCurve plots the training log at path (train.jsonl) into the PNG
// out and returns the number of training and validation points and the
// last step.
func writeLossCurve(path, out string) (nTrain, nVal, lastStep int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	var tr, va plot.Series
	tr.Label, va.Label = "training loss (mean since previous line)", "validation loss (EMA weights)"
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		var rec struct {
			Step    int      `json:"step"`
			Loss    *float64 `json:"loss"`
			ValLoss *float64 `json:"val_loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return 0, 0, 0, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if rec.Loss != nil && !math.IsNaN(*rec.Loss) {
			tr.X, tr.Y = append(tr.X, float64(rec.Step)), append(tr.Y, *rec.Loss)
		}
		if rec.ValLoss != nil && !math.IsNaN(*rec.ValLoss) {
			va.X, va.Y = append(va.X, float64(rec.Step)), append(va.Y, *rec.ValLoss)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(tr.X) == 0 {
		return 0, 0, 0, fmt.Errorf("%s: no loss values yet", path)
	}
	series := []plot.Series{tr}
	if len(va.X) > 0 {
		series = append(series, va)
	}
	if err := plot.CurveWith(out, "Denoising score-matching loss", "step", "loss per pixel", plot.CurveOptions{LogY: true}, series...); err != nil {
		return 0, 0, 0, err
	}
	return len(tr.X), len(va.X), int(tr.X[len(tr.X)-1]), nil
}
