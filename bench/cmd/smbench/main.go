// Command smbench times score_models' NCSNpp run by lenscore (imported
// through package scoremodels) against PyTorch running the same
// score_models network from the same checkpoint directory, on the same
// cores, in one run: forward passes (the score) at batch 1 and 32.
//
// The network is an NCSNpp with lenscore's NCSN++ initialisation (weights do
// not change the cost), exported with scoremodels.Export; PyTorch loads it
// with ScoreModel(checkpoints_directory=DIR) (scripts/score_models_ref.py
// bench, which needs the score_models source: -score-models DIR). Each
// lenscore measurement is followed at once by the PyTorch one in a fresh
// subprocess with torch.set_num_threads(2), OMP_NUM_THREADS=2 and jemalloc
// when present; PyTorch's best variant (eager NCHW, channels_last,
// TorchScript trace+freeze) is compared. The result goes to
// bench/results/smbench-<date>.json.
//
//	go run ./bench/cmd/smbench -score-models /tmp/score_models
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/lenscore/lenscore/bench/internal/machine"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/scoremodels"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/weights"
)

const jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

type phase struct {
	Batch        int             `json:"batch"`
	LenscoreMS   float64         `json:"lenscore_median_ms"`
	LenscoreAll  []float64       `json:"lenscore_samples_ms"`
	TorchBestMS  float64         `json:"torch_best_ms"`
	TorchVariant string          `json:"torch_best_variant"`
	Ratio        float64         `json:"ratio_lenscore_over_torch"`
	Torch        json.RawMessage `json:"torch"`
}

type result struct {
	Date     string       `json:"date"`
	Network  score.Config `json:"network"`
	Params   int          `json:"params"`
	GFLOP    float64      `json:"gflop_per_image"`
	Gemm     string       `json:"gemm"`
	Workers  int          `json:"workers"`
	Reps     int          `json:"reps"`
	LoadAvg  string       `json:"loadavg_before"`
	LoadEnd  string       `json:"loadavg_after"`
	OMPWait  string       `json:"omp_wait_policy"`
	Phases   []phase      `json:"phases"`
	Commands []string     `json:"torch_commands"`
}

func main() {
	sm := flag.String("score-models", os.Getenv("LENSCORE_SCORE_MODELS"), "directory holding the score_models package (or $LENSCORE_SCORE_MODELS)")
	python := flag.String("python", "/usr/bin/python3", "Python interpreter with torch")
	nf := flag.Int("nf", 32, "NCSNpp nf")
	chMult := flag.String("ch-mult", "1,2,2,2", "NCSNpp ch_mult")
	blocks := flag.Int("num-res-blocks", 2, "NCSNpp num_res_blocks")
	side := flag.Int("side", 64, "image side")
	batches := flag.String("batches", "1,32", "batch sizes")
	reps := flag.Int("reps", 5, "timed repetitions (median; batch 1 uses 4×)")
	outDir := flag.String("out", "", "directory for the JSON result (default bench/results; \"-\": none)")
	ompWait := flag.String("omp-wait", "passive", "OMP_WAIT_POLICY for PyTorch (passive: threads sleep at barriers, which a loaded machine needs)")
	flag.Parse()
	if err := run(*sm, *python, *nf, *chMult, *blocks, *side, *batches, *reps, *outDir, *ompWait); err != nil {
		fmt.Fprintln(os.Stderr, "smbench:", err)
		os.Exit(1)
	}
}

func run(sm, python string, nf int, chMultS string, blocks, side int, batchesS string, reps int, outDir, ompWait string) error {
	if sm == "" {
		return fmt.Errorf("-score-models DIR is required (the directory holding the score_models package)")
	}
	var chMult []int
	for _, f := range strings.Split(chMultS, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-ch-mult %q: %w", chMultS, err)
		}
		chMult = append(chMult, v)
	}
	var batches []int
	for _, f := range strings.Split(batchesS, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return fmt.Errorf("-batches %q: want positive integers", batchesS)
		}
		batches = append(batches, v)
	}
	root, err := machine.ModuleRoot("smbench")
	if err != nil {
		return err
	}
	script := filepath.Join(root, "scripts", "score_models_ref.py")
	g, err := nn.DefaultGemm()
	if err != nil {
		return err
	}
	// The network: NCSN++ initialisation, exported for score_models and
	// read back the way import-model reads a checkpoint directory.
	ve := sde.VE{SigmaMin: 1e-3, SigmaMax: 50}
	cfg := score.NewNCSNppConfig(1, nf, chMult, blocks, side, 16, ve.SigmaMin, ve.SigmaMax)
	net0, err := score.New(cfg, g, 1)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "smbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ck := filepath.Join(dir, "ncsnpp")
	if err := scoremodels.Export(net0, ve, ck); err != nil {
		return err
	}
	net0.Close()
	m, err := scoremodels.Read(ck, -1, side)
	if err != nil {
		return err
	}
	net, err := m.Net(g)
	if err != nil {
		return err
	}
	defer net.Close()
	net.SetInference(true)
	res := result{Date: time.Now().UTC().Format(time.RFC3339), Network: net.Config(), Params: net.NumParams(),
		GFLOP: float64(net.Flops()) / 1e9, Gemm: g.Name(), Workers: net.Workers(), Reps: reps, LoadAvg: machine.LoadAvg(), OMPWait: ompWait}
	fmt.Fprintf(os.Stderr, "NCSNpp nf %d ch_mult %v, %d² images: %d parameters, %.2f GFLOP per image; %s, %d workers (load %s)\n",
		nf, chMult, side, res.Params, res.GFLOP, res.Gemm, res.Workers, res.LoadAvg)
	sz := side * side
	for _, b := range batches {
		rng := rand.New(rand.NewPCG(uint64(b), 3))
		x := make([]float32, b*sz)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		t := make([]float32, b)
		for i := range t {
			t[i] = 0.5
		}
		n := reps
		if b == 1 {
			n = 4 * reps
		}
		warm := 2
		if b == 1 {
			warm = 5
		}
		for range warm {
			net.ForwardTime(x, t, b)
		}
		ts := make([]float64, n)
		for i := range ts {
			t0 := time.Now()
			net.ForwardTime(x, t, b)
			ts[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
		}
		p := phase{Batch: b, LenscoreMS: machine.Median(ts), LenscoreAll: ts}
		fmt.Fprintf(os.Stderr, "lenscore b=%d: %.1f ms\n", b, p.LenscoreMS)
		args := []string{script, "--score-models", sm, "bench", ck, "--side", fmt.Sprint(side), "--batch", fmt.Sprint(b),
			"--reps", fmt.Sprint(n), "--threads", "2"}
		cmd := exec.Command(python, args...)
		cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2", "MKL_NUM_THREADS=2", "OMP_WAIT_POLICY="+ompWait)
		if _, err := os.Stat(jemalloc); err == nil {
			cmd.Env = append(cmd.Env, "LD_PRELOAD="+jemalloc)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		res.Commands = append(res.Commands, python+" "+strings.Join(args, " "))
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("PyTorch side: %w", err)
		}
		var tr struct {
			Params  int     `json:"params"`
			BestMS  float64 `json:"best_ms"`
			Variant string  `json:"best_variant"`
		}
		if err := json.Unmarshal(out.Bytes(), &tr); err != nil {
			return fmt.Errorf("PyTorch side printed invalid JSON: %w", err)
		}
		if tr.Params != res.Params {
			return fmt.Errorf("PyTorch network has %d parameters, lenscore's %d", tr.Params, res.Params)
		}
		p.Torch, p.TorchBestMS, p.TorchVariant = json.RawMessage(bytes.TrimSpace(out.Bytes())), tr.BestMS, tr.Variant
		p.Ratio = p.LenscoreMS / p.TorchBestMS
		res.Phases = append(res.Phases, p)
	}
	res.LoadEnd = machine.LoadAvg()
	fmt.Printf("load average before %s, after %s\n", res.LoadAvg, res.LoadEnd)
	fmt.Printf("%-6s %14s %14s %-14s %8s\n", "batch", "lenscore ms", "PyTorch ms", "(variant)", "ratio")
	for _, p := range res.Phases {
		fmt.Printf("%-6d %14.1f %14.1f %-14s %8.2f\n", p.Batch, p.LenscoreMS, p.TorchBestMS, p.TorchVariant, p.Ratio)
	}
	if outDir == "-" {
		return nil
	}
	if outDir == "" {
		outDir = filepath.Join(root, "bench", "results")
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(outDir, "smbench-"+time.Now().Format("2006-01-02")+".json")
	if err := weights.WriteFileAtomic(path, append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", path)
	return nil
}
