// Command scalebench measures what lenscore's score network costs at the
// paper's image sizes: time and peak memory per forward pass (inference)
// and per training step, at 64², 128² and 256² and batch 1 and 16, against
// the same network in PyTorch (bench/torch_ncsnpp.py) on the same cores in
// the same run; the technique-2 step count at each size; and what a
// posterior sample of a 256² source with 8000 steps costs on this machine
// and on N Slurm nodes like it.
//
// Every measurement runs in a fresh child process (lenscore: this program
// with -child; PyTorch: the script with --only), one right after the other
// for each (size, batch, kind), so both sides of a ratio see similar load,
// and the child's peak resident set (getrusage ru_maxrss) is its memory.
// The network at each size is score.ConfigForSize(size) (with -nf, if
// given, as the base width). Results go to stdout and to
// bench/results/scalebench-<date>.{txt,json}.
//
//	go run ./bench/cmd/scalebench                      # 64,128,256 × batch 1,16 (≈ 30–60 min on 2 busy cores)
//	go run ./bench/cmd/scalebench -sizes 64,128 -no-torch -out -
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/lenscore/lenscore/bench/internal/machine"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/train"
)

const jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

// Timing is one side of one measurement.
type Timing struct {
	MedianMS   float64   `json:"median_ms"`
	MinMS      float64   `json:"min_ms"`
	PerImageMS float64   `json:"per_image_ms"`
	CPUMS      float64   `json:"cpu_ms"`
	SamplesMS  []float64 `json:"samples_ms,omitempty"`
	PeakRSSMiB float64   `json:"peak_rss_mib"`
	Variant    string    `json:"variant,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Row is one (size, kind, batch) measurement.
type Row struct {
	Size      int     `json:"size"`
	Kind      string  `json:"kind"` // "forward" or "train"
	Batch     int     `json:"batch"`
	Params    int     `json:"params"`
	GFLOPImg  float64 `json:"gflop_per_image_forward"`
	Lenscore  Timing  `json:"lenscore"`
	PyTorch   *Timing `json:"pytorch,omitempty"`
	Ratio     float64 `json:"ratio,omitempty"` // lenscore / PyTorch median wall time
	LoadAfter string  `json:"load_after"`
}

// SizeInfo is what the sampler needs at one size.
type SizeInfo struct {
	Size        int          `json:"size"`
	Config      score.Config `json:"config"`
	SigmaMax    float64      `json:"sigma_max"`
	SigmaSource string       `json:"sigma_max_source"`
	Steps       int          `json:"technique2_steps"` // p ≥ 0.99
	P2000       float64      `json:"overlap_at_2000"`
	P8000       float64      `json:"overlap_at_8000"`
}

// Result is the JSON written to bench/results.
type Result struct {
	Date      string     `json:"date"`
	Command   string     `json:"command"`
	Revision  string     `json:"revision"`
	CPU       string     `json:"cpu"`
	Gemm      string     `json:"gemm"`
	LoadStart string     `json:"load_before"`
	Sizes     []SizeInfo `json:"sizes"`
	Rows      []Row      `json:"rows"`
	// Operator: one Apply plus one Adjoint of the 256² → 128² operator
	// (2×2 rays, Gaussian PSF), the likelihood's cost per chain per step.
	OperatorMS    float64 `json:"operator_apply_adjoint_ms"`
	OperatorCPUMS float64 `json:"operator_apply_adjoint_cpu_ms,omitempty"`
	Cost          []Cost  `json:"cost_8000_steps_256"`
}

// Cost is the estimated wall time of 8000-step posterior sampling of a 256²
// source on N nodes of this machine.
type Cost struct {
	Nodes         int     `json:"nodes"`
	ChainsPerNode int     `json:"chains_per_node"`
	Samples       int     `json:"samples"`
	WallHours     float64 `json:"wall_hours"`     // from the wall-clock medians (a loaded machine: an upper bound)
	IdleHours     float64 `json:"cpu_half_hours"` // from the CPU times spread over the node's 2 cores (a lower bound)
}

func main() {
	child := flag.String("child", "", "internal: run one lenscore measurement (forward or train) and print its JSON")
	size := flag.Int("size", 64, "internal (-child): image side")
	batch := flag.Int("batch", 1, "internal (-child): batch size")
	sizes := flag.String("sizes", "64,128,256", "image sides to measure")
	batches := flag.String("batches", "1,16", "batch sizes to measure")
	nf := flag.Int("nf", 0, "base width NF of every network (0: score.ConfigForSize's, 32)")
	reps := flag.Int("reps", 3, "timed repetitions per measurement (median reported), after one warm-up call; at most 2 when one call takes over 20 s")
	python := flag.String("python", "/usr/bin/python3", "Python interpreter with torch")
	noTorch := flag.Bool("no-torch", false, "skip the PyTorch side")
	data := flag.String("data", "../shared/data/galaxies/gz_decals/r_crop256,../shared/data/galaxies/stellarium/gray", "galaxy folders for σ_max at each size (relative to the module root; missing: 64²'s σ_max scaled by n/64)")
	outDir := flag.String("out", "", "directory for the results (default: bench/results under the module root; \"-\": none)")
	kinds := flag.String("kinds", "forward,train", "measurements: forward, train or both")
	tag := flag.String("tag", "", "suffix of the result files: scalebench-<date>-<tag>.{txt,json}")
	reportFile := flag.String("report", "", "print the stored result FILE.json as a table with the cost estimate recomputed, into FILE-report.txt (no measurement)")
	flag.Parse()
	if *reportFile != "" {
		if err := report(*reportFile); err != nil {
			fmt.Fprintln(os.Stderr, "scalebench:", err)
			os.Exit(1)
		}
		return
	}
	if *child != "" {
		if err := runChild(*child, *size, *batch, *nf, *reps); err != nil {
			fmt.Fprintln(os.Stderr, "scalebench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*sizes, *batches, *kinds, *tag, *nf, *reps, *python, *noTorch, *data, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

func configFor(size, nf int) score.Config {
	c := score.ConfigForSize(size)
	if nf > 0 {
		c.NF = nf
	}
	return c
}

func parseList(s, name string) ([]int, error) {
	v, err := score.ParseInts(s)
	if err != nil || len(v) == 0 {
		return nil, fmt.Errorf("-%s: want a comma-separated list of positive integers, got %q", name, s)
	}
	for _, x := range v {
		if x < 1 {
			return nil, fmt.Errorf("-%s: %d is not positive", name, x)
		}
	}
	return v, nil
}

func run(sizesArg, batchesArg, kindsArg, tag string, nf, reps int, python string, noTorch bool, data, outDir string) error {
	kinds := strings.Split(kindsArg, ",")
	for _, k := range kinds {
		if k != "forward" && k != "train" {
			return fmt.Errorf("-kinds: want forward and/or train, got %q", kindsArg)
		}
	}
	sizes, err := parseList(sizesArg, "sizes")
	if err != nil {
		return err
	}
	batches, err := parseList(batchesArg, "batches")
	if err != nil {
		return err
	}
	if reps < 1 {
		return fmt.Errorf("-reps must be ≥ 1, got %d", reps)
	}
	root, err := machine.ModuleRoot("scalebench")
	if err != nil {
		return err
	}
	for _, s := range sizes {
		if err := configFor(s, nf).Validate(); err != nil {
			return fmt.Errorf("-sizes %d: %w", s, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	g, err := nn.DefaultGemm()
	if err != nil {
		return err
	}
	res := &Result{Date: time.Now().UTC().Format(time.RFC3339), Command: "go run ./bench/cmd/scalebench " + strings.Join(os.Args[1:], " "),
		Revision: machine.Revision(root), CPU: machine.CPUName(), Gemm: g.Name(), LoadStart: machine.LoadAvg()}
	var log bytes.Buffer
	w := io.MultiWriter(os.Stdout, &log)
	fmt.Fprintf(w, "scalebench %s, revision %s, %s, GOMAXPROCS %d, gemm %s, load average %s\n",
		res.Date, res.Revision, res.CPU, runtime.GOMAXPROCS(0), res.Gemm, res.LoadStart)

	// Technique-2 step counts.
	for _, s := range sizes {
		info := SizeInfo{Size: s, Config: configFor(s, nf)}
		info.SigmaMax, info.SigmaSource = sigmaMaxAt(root, data, s)
		ve, err := sde.NewVE(sde.DefaultSigmaMin, info.SigmaMax)
		if err != nil {
			return err
		}
		if info.Steps, err = ve.StepsFor(s*s, 0.99); err != nil {
			return err
		}
		info.P2000, info.P8000 = ve.StepProbability(2000, s*s), ve.StepProbability(8000, s*s)
		res.Sizes = append(res.Sizes, info)
		fmt.Fprintf(w, "size %d: %v, %d parameters; σ_max %.4g (%s); technique 2: %d steps for p ≥ 0.99 (p(2000) = %.3f, p(8000) = %.3f)\n",
			s, info.Config.ChMult, info.Config.NumParams(), info.SigmaMax, info.SigmaSource, info.Steps, info.P2000, info.P8000)
	}

	for _, s := range sizes {
		cfg := configFor(s, nf)
		cj, _ := json.Marshal(cfg)
		params := int(cfg.NumParams())
		for _, kind := range kinds {
			for _, b := range batches {
				row := Row{Size: s, Kind: kind, Batch: b, Params: params}
				if need := memoryEstimate(res.Rows, kind, s, b); need > 0.6*availableMiB() {
					row.Lenscore.Error = fmt.Sprintf("skipped: ≈ %.0f MiB estimated from the smaller sizes, more than 60%% of the %.0f MiB available", need, availableMiB())
					row.LoadAfter = machine.LoadAvg()
					res.Rows = append(res.Rows, row)
					printRow(w, row)
					continue
				}
				fmt.Fprintf(os.Stderr, "== %d² %s batch %d\n", s, kind, b)
				row.Lenscore = goSide(self, kind, s, b, nf, reps)
				row.GFLOPImg = gflopImg(s, nf)
				if !noTorch {
					t := torchSide(python, filepath.Join(root, "bench", "torch_ncsnpp.py"), string(cj), params, kind, b, repsFor(row.Lenscore, reps))
					row.PyTorch = &t
					if t.Error == "" && row.Lenscore.Error == "" {
						row.Ratio = row.Lenscore.MedianMS / t.MedianMS
					}
				}
				row.LoadAfter = machine.LoadAvg()
				res.Rows = append(res.Rows, row)
				printRow(w, row)
			}
		}
	}

	// Likelihood cost at the paper's geometry, then the 8000-step estimate.
	res.OperatorMS, res.OperatorCPUMS = operatorMS()
	printCosts(w, res)
	fmt.Fprintf(w, "load average at the end: %s (the machine was shared with other jobs: treat the times as upper bounds)\n", machine.LoadAvg())

	if outDir == "-" {
		return nil
	}
	if outDir == "" {
		outDir = filepath.Join(root, "bench", "results")
	}
	base := filepath.Join(outDir, "scalebench-"+time.Now().UTC().Format("2006-01-02"))
	if tag != "" {
		base += "-" + tag
	}
	js, _ := json.MarshalIndent(res, "", " ")
	for _, f := range []struct {
		path string
		b    []byte
	}{{base + ".json", append(js, '\n')}, {base + ".txt", log.Bytes()}} {
		if err := writeAtomic(f.path, f.b); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "wrote", f.path)
	}
	return nil
}

// memoryEstimate returns lenscore's peak memory (MiB) for a measurement
// extrapolated from the largest smaller size measured with the same kind
// and batch (memory grows with the pixels), or 0 without one.
func memoryEstimate(rows []Row, kind string, size, batch int) float64 {
	best := Row{}
	for _, r := range rows {
		if r.Kind == kind && r.Batch == batch && r.Size < size && r.Lenscore.Error == "" && r.Size > best.Size {
			best = r
		}
	}
	if best.Size == 0 {
		return 0
	}
	f := float64(size) * float64(size) / (float64(best.Size) * float64(best.Size))
	return best.Lenscore.PeakRSSMiB * f
}

// availableMiB returns MemAvailable in MiB (or +Inf when unknown).
func availableMiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return math.Inf(1)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			var kb float64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return math.Inf(1)
}

// printCosts computes and prints the cost of 8000-step posterior sampling
// of a 256² source from the 256² forward rows and the operator's time.
func printCosts(w io.Writer, res *Result) {
	cpuNote := "CPU not recorded"
	if res.OperatorCPUMS > 0 {
		cpuNote = fmt.Sprintf("CPU %.2f ms", res.OperatorCPUMS)
	}
	fmt.Fprintf(w, "\n256² → 128² operator (2×2 rays, PSF FWHM 0.12″): Apply + Adjoint %.2f ms per image (%s)\n", res.OperatorMS, cpuNote)
	var f1, f16, c1, c16 float64
	for _, r := range res.Rows {
		if r.Size == 256 && r.Kind == "forward" && r.Lenscore.Error == "" {
			switch r.Batch {
			case 1:
				f1, c1 = r.Lenscore.MedianMS, r.Lenscore.CPUMS
			case 16:
				f16, c16 = r.Lenscore.MedianMS, r.Lenscore.CPUMS
			}
		}
	}
	if f16 == 0 {
		return
	}
	opCPU := res.OperatorCPUMS
	if opCPU == 0 {
		opCPU = res.OperatorMS
	}
	const steps, chains = 8000, 16
	perStep := f16 + chains*res.OperatorMS // one batched network call + each chain's likelihood
	perStepIdle := c16/2 + chains*opCPU/2  // the same CPU work on 2 idle cores
	fmt.Fprintf(w, "8000-step posterior sampling of a 256² source (Euler–Maruyama, one network evaluation and one A, Aᵀ pair per chain and step);\n")
	fmt.Fprintf(w, "\"measured\" uses the wall-clock medians above (a loaded machine: an upper bound), \"CPU/2\" the CPU times spread over a node's 2 cores\n(a lower bound: it assumes perfect use of both cores, and CPU time on an overloaded machine undercounts spinning and stalls):\n")
	if f1 > 0 {
		fmt.Fprintf(w, "  one sample alone (batch 1): %.1f h measured, %.1f h CPU/2 on one node\n", steps*(f1+res.OperatorMS)/3.6e6, steps*(c1/2+opCPU/2)/3.6e6)
	}
	fmt.Fprintf(w, "  %-6s %-8s %-8s %-14s %-10s %s\n", "nodes", "chains", "samples", "wall h (meas.)", "(CPU/2)", "node-h per sample (meas. … CPU/2)")
	res.Cost = nil
	for _, n := range []int{1, 4, 16, 64} {
		c := Cost{Nodes: n, ChainsPerNode: chains, Samples: n * chains, WallHours: steps * perStep / 3.6e6, IdleHours: steps * perStepIdle / 3.6e6}
		res.Cost = append(res.Cost, c)
		fmt.Fprintf(w, "  %-6d %-8d %-8d %-14.1f %-10.1f %.2f … %.2f\n", n, chains, c.Samples, c.WallHours, c.IdleHours,
			c.WallHours*float64(n)/float64(c.Samples), c.IdleHours*float64(n)/float64(c.Samples))
	}
	fmt.Fprintf(w, "  (each node: 2 cores like this machine, %d chains in one batch, seeds split across nodes; chains are independent, so N nodes give N× the samples in the same wall time)\n", chains)
}

// report re-prints a stored result with the cost estimate recomputed.
func report(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var out bytes.Buffer
	w := io.MultiWriter(os.Stdout, &out)
	fmt.Fprintf(w, "scalebench %s (%s), revision %s, %s, gemm %s, load average before %s\n", res.Date, res.Command, res.Revision, res.CPU, res.Gemm, res.LoadStart)
	for _, si := range res.Sizes {
		fmt.Fprintf(w, "size %d: %v, %d parameters; σ_max %.4g (%s); technique 2: %d steps for p ≥ 0.99 (p(2000) = %.3f, p(8000) = %.3f)\n",
			si.Size, si.Config.ChMult, si.Config.NumParams(), si.SigmaMax, si.SigmaSource, si.Steps, si.P2000, si.P8000)
	}
	fmt.Fprintf(w, "%-18s %-10s %-26s %-26s %-7s %s\n", "", "GFLOP/img", "lenscore ms (CPU ms, MiB)", "PyTorch ms (CPU ms, MiB)", "ratio", "CPU ratio")
	for _, r := range res.Rows {
		if r.Lenscore.Error != "" || r.PyTorch == nil || r.PyTorch.Error != "" {
			fmt.Fprintf(w, "%4d² %-7s b=%-3d  not measured: %s\n", r.Size, r.Kind, r.Batch, firstErr(r))
			continue
		}
		l, p := r.Lenscore, r.PyTorch
		fmt.Fprintf(w, "%4d² %-7s b=%-3d  %-10.1f %9.0f (%7.0f, %5.0f)   %9.0f (%7.0f, %5.0f)   %-7.2f %.2f\n", r.Size, r.Kind, r.Batch, r.GFLOPImg,
			l.MedianMS, l.CPUMS, l.PeakRSSMiB, p.MedianMS, p.CPUMS, p.PeakRSSMiB, r.Ratio, l.CPUMS/p.CPUMS)
	}
	printCosts(w, &res)
	return writeAtomic(strings.TrimSuffix(path, ".json")+"-report.txt", out.Bytes())
}

func firstErr(r Row) string {
	if r.Lenscore.Error != "" {
		return "lenscore: " + r.Lenscore.Error
	}
	if r.PyTorch != nil {
		return "PyTorch: " + r.PyTorch.Error
	}
	return "no PyTorch side"
}

// repsFor gives PyTorch the repetitions lenscore had (a slow call gets 2).
func repsFor(t Timing, reps int) int {
	if t.MedianMS > 20000 {
		return min(reps, 2)
	}
	return reps
}

func gflopImg(size, nf int) float64 {
	g, err := nn.DefaultGemm()
	if err != nil {
		return math.NaN()
	}
	net, err := score.New(configFor(size, nf), g, 1)
	if err != nil {
		return math.NaN()
	}
	defer net.Close()
	return float64(net.Flops()) / 1e9
}

func printRow(w io.Writer, r Row) {
	fmt.Fprintf(w, "%4d² %-7s b=%-3d %8.1f GFLOP/img  lenscore %10.1f ms (%8.1f ms/img, %6.0f MiB)", r.Size, r.Kind, r.Batch, r.GFLOPImg,
		r.Lenscore.MedianMS, r.Lenscore.PerImageMS, r.Lenscore.PeakRSSMiB)
	if r.Lenscore.Error != "" {
		fmt.Fprintf(w, " [error: %s]", r.Lenscore.Error)
	}
	if p := r.PyTorch; p != nil {
		if p.Error != "" {
			fmt.Fprintf(w, "  PyTorch [error: %s]", p.Error)
		} else {
			fmt.Fprintf(w, "  PyTorch %10.1f ms (%8.1f ms/img, %6.0f MiB, %s)  ratio %.2f", p.MedianMS, p.PerImageMS, p.PeakRSSMiB, p.Variant, r.Ratio)
		}
	}
	fmt.Fprintf(w, "  load %s\n", r.LoadAfter)
}

// goSide runs one lenscore measurement in a child process.
func goSide(self, kind string, size, batch, nf, reps int) Timing {
	cmd := exec.Command(self, "-child", kind, "-size", strconv.Itoa(size), "-batch", strconv.Itoa(batch), "-nf", strconv.Itoa(nf), "-reps", strconv.Itoa(reps))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	err := cmd.Run()
	var t Timing
	if err != nil {
		t.Error = err.Error()
		return t
	}
	if err := json.Unmarshal(out.Bytes(), &t); err != nil {
		t.Error = "bad JSON from the child: " + err.Error()
	}
	t.PeakRSSMiB = maxRSS(cmd)
	return t
}

func maxRSS(cmd *exec.Cmd) float64 {
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	return math.NaN()
}

// torchSide runs the same measurement in PyTorch (eager channels_last and
// TorchScript freeze+optimize_for_inference for the forward pass at batch
// 1, eager channels_last above; eager NCHW training with Adam foreach), the
// variants that won netbench's runs.
func torchSide(python, script, cfg string, params int, kind string, batch, reps int) Timing {
	args := []string{script, "--config", cfg, "--expect-params", strconv.Itoa(params), "--reps", strconv.Itoa(reps), "--warmup", "1", "--exact-reps"}
	if kind == "forward" {
		v := "eager_channels_last"
		if batch == 1 {
			v = "eager_channels_last,jit_freeze_ofi"
		}
		args = append(args, "--fwd-batches", strconv.Itoa(batch), "--only", "fwd"+strconv.Itoa(batch), "--fwd-variants", v)
	} else {
		args = append(args, "--train-batches", strconv.Itoa(batch), "--only", "train", "--train-variants", "eager_adam_foreach")
	}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2", "MKL_NUM_THREADS=2", "OMP_WAIT_POLICY=PASSIVE")
	if _, err := os.Stat(jemalloc); err == nil {
		cmd.Env = append(cmd.Env, "LD_PRELOAD="+jemalloc)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	var t Timing
	if err := cmd.Run(); err != nil {
		t.Error = fmt.Sprintf("%s %s: %v", python, script, err)
		return t
	}
	var r struct {
		Forward, Train map[string]struct {
			Best       string  `json:"best"`
			MS         float64 `json:"ms"`
			MSPerImage float64 `json:"ms_per_image"`
			CPUMS      float64 `json:"cpu_ms"`
			MinMS      float64 `json:"min_ms"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Error = "bad JSON from PyTorch: " + err.Error()
		return t
	}
	m, ok := r.Forward[fmt.Sprintf("b%d", batch)]
	if kind == "train" {
		m, ok = r.Train[fmt.Sprintf("b%d", batch)]
	}
	if !ok {
		t.Error = "PyTorch reported no such measurement"
		return t
	}
	t = Timing{MedianMS: m.MS, MinMS: m.MinMS, PerImageMS: m.MSPerImage, CPUMS: m.CPUMS, Variant: m.Best, PeakRSSMiB: maxRSS(cmd)}
	return t
}

// runChild times one measurement of lenscore's network and prints a Timing.
func runChild(kind string, size, batch, nf, reps int) error {
	g, err := nn.DefaultGemm()
	if err != nil {
		return err
	}
	net, err := score.New(configFor(size, nf), g, 1)
	if err != nil {
		return err
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(uint64(size), uint64(batch)))
	px := size * size
	x, z, sig := make([]float32, batch*px), make([]float32, batch*px), make([]float32, batch)
	for i := range x {
		x[i], z[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	for i := range sig {
		sig[i] = float32(0.01 + rng.Float64())
	}
	var fn func()
	switch kind {
	case "forward":
		net.SetInference(true)
		fn = func() { net.Forward(x, sig, batch) }
	case "train":
		for i := range x {
			x[i] += sig[i/px] * z[i]
		}
		params := net.Params()
		adam := train.NewAdam(params, 0.9, 0.999, 1e-8)
		dout := make([]float32, len(x))
		step := 0
		fn = func() {
			step++
			for _, p := range params {
				p.ZeroGrad()
			}
			eps := net.Forward(x, sig, batch)
			train.DSMLoss(eps, z, dout)
			net.Backward(dout)
			adam.Step(params, 1e-4, step)
		}
	default:
		return fmt.Errorf("unknown -child %q", kind)
	}
	t0 := time.Now()
	fn() // warm-up
	if time.Since(t0) > 20*time.Second {
		reps = min(reps, 2)
	}
	var ts, cs []float64
	for range reps {
		c0, t0 := machine.CPUMillis(), time.Now()
		fn()
		ts = append(ts, float64(time.Since(t0).Nanoseconds())/1e6)
		cs = append(cs, machine.CPUMillis()-c0)
	}
	t := Timing{MedianMS: machine.Median(ts), MinMS: slices.Min(ts), CPUMS: machine.Median(cs), SamplesMS: ts}
	t.PerImageMS = t.MedianMS / float64(batch)
	return json.NewEncoder(os.Stdout).Encode(t)
}

// sigmaMaxAt returns σ_max for size×size training images: the largest
// pairwise distance of the galaxies in data (as `lenscore train` computes
// it, at most the first 1000 images), or, without the data, 18.72 (the
// shipped 64² prior's) scaled by size/64 (distances of peak-normalised
// images grow with the side).
func sigmaMaxAt(root, data string, size int) (float64, string) {
	var imgs [][]float32
	for _, d := range strings.Split(data, ",") {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		ds, err := train.LoadDir(d, train.LoadOptions{Size: size, ValFraction: -1, Stars: &train.StarOptions{}})
		if err != nil {
			imgs = nil
			break
		}
		for _, im := range ds.Train {
			if len(imgs) < 1000 {
				imgs = append(imgs, im.Pix)
			}
		}
	}
	if len(imgs) >= 2 {
		if s, err := sde.SigmaMaxFromData(imgs); err == nil {
			return s, fmt.Sprintf("largest distance of %d training galaxies", len(imgs))
		}
	}
	return 18.72 * float64(size) / 64, "no data: the 64² prior's 18.72 × size/64"
}

// operatorMS times Apply + Adjoint of the 256² → 128² operator of
// experiment's default fields with a 0.12″ Gaussian PSF.
func operatorMS() (wall, cpu float64) {
	psf, err := lens.GaussianPSF(experiment.DefaultPSFFWHM, experiment.DefaultObsField/128, 0)
	if err != nil {
		return math.NaN(), math.NaN()
	}
	op, err := lens.NewOperator(lens.Composite{lens.SIE{ThetaE: 1.2, Q: 0.7, Phi: 0.3}, lens.Shear{Gamma1: 0.03, Gamma2: -0.02}},
		lens.Config{Obs: lens.Grid{N: 128, Scale: experiment.DefaultObsField / 128}, Src: lens.Grid{N: 256, Scale: experiment.DefaultSrcField / 256},
			Supersample: experiment.DefaultSupersample, PSF: psf})
	if err != nil {
		return math.NaN(), math.NaN()
	}
	x, y := make([]float64, 256*256), make([]float64, 128*128)
	for i := range x {
		x[i] = float64(i%7) / 7
	}
	var ts, cs []float64
	for range 20 {
		c0, t0 := machine.CPUMillis(), time.Now()
		op.Apply(y, x)
		op.Adjoint(x, y)
		ts = append(ts, float64(time.Since(t0).Nanoseconds())/1e6)
		cs = append(cs, machine.CPUMillis()-c0)
	}
	return machine.Median(ts), machine.Median(cs)
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
