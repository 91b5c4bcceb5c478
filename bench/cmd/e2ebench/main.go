//go:build unix

// Command e2ebench times a posterior sample end to end — the reverse-SDE
// loop with the shipped 64×64 network prior and a lensing likelihood — in
// lenscore and in PyTorch (bench/torch_em.py) running the same loop with
// the same network weights, the same lensing matrix and the same data on
// the same cores, and the network work of the calibrated setting
// (projected-jacobian: a forward pass plus an input-gradient
// back-propagation per step) on both sides.
//
// What one side times, at batch B (16 by default):
//
//   - em step: one Euler–Maruyama step of B chains with the paper's
//     convolved likelihood: ε_θ(x, σ) for the batch (float32 network),
//     the likelihood score Aᵀ(y − A x)/(σ_n² + σ²) per chain (float64,
//     sparse A), and the update x ← x + g²Δt s + g√Δt z. lenscore runs
//     posterior.Sample with Steps = -steps on the whole VE schedule (the
//     cost of a step does not depend on t); PyTorch the same loop in
//     torch.inference_mode, with torch.sparse CSR products for A and Aᵀ.
//   - fwd+vjp: the network part of a projected-jacobian step below the
//     Jacobian threshold: a forward pass that keeps the activations and the
//     back-propagation of a cotangent to the input (NetworkPrior.ScoreKeep
//   - VJP; torch.autograd.grad with respect to x only).
//
// From these it derives seconds per posterior sample: the paper's loop
// (EM, convolved) at N/8 = 199 steps, and the network time per sample of
// the calibrated setting (EM at 199 steps, 131 of them with the Jacobian)
// and of the low-evaluation one (dpm2 at 40 steps, 26 with the Jacobian).
// The calibrated settings' full end-to-end times (with the conjugate-
// gradient likelihood) are those of `lenscore experiment coverage`.
//
// Usage, from the repository root:
//
//	go run ./bench/cmd/e2ebench [-batch 16] [-steps 6] [-reps 3] [-rounds 3] [-no-torch] [-out DIR|-] [-cpuprofile FILE]
//
// The measurements run in -rounds rounds of lenscore's phases followed at
// once by PyTorch's (a fresh subprocess), so that the two sides of a ratio
// see similar load on a shared machine; each figure is the median over the
// rounds of the round's median, and the EM ratio the median of the rounds'
// ratios.
//
// -cpuprofile profiles lenscore's timed EM repetitions (not the warm-up,
// the network phases or PyTorch).
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/lenscore/lenscore/bench/internal/machine"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lenscore/lenscore/atomicfile"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/models"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/sde"
)

const (
	jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
	side     = 64 // source and image side (pixels)
	dim      = side * side
)

// Step counts of the two calibrated settings (projected-jacobian,
// --jacobian-below 0.3, shipped prior: σ_max = 18.72, σ_min = 1e-4,
// t_end = 1e-3); Setting derives them from the schedule.
type Setting struct {
	Name      string  `json:"name"`
	Sampler   string  `json:"sampler"`
	Steps     int     `json:"steps"`
	Jacobian  int     `json:"jacobian_steps"`           // steps with σ(t) ≤ 0.3 (forward + VJP)
	Equiv     int     `json:"network_eval_equivalents"` // steps + 2 × Jacobian steps
	GoNetS    float64 `json:"lenscore_network_s_per_sample"`
	TorchNetS float64 `json:"torch_network_s_per_sample,omitempty"`
}

// Side is one implementation's timings (median over repetitions, ms).
type Side struct {
	EMStepMS      float64   `json:"em_step_ms"`      // one EM step of the batch, convolved likelihood
	EMStepSamples []float64 `json:"em_step_samples"` // per repetition
	EMVariant     string    `json:"em_variant,omitempty"`
	EMPriorMS     float64   `json:"em_prior_ms,omitempty"` // lenscore: wall time per EM step in the network (posterior.Result.PriorTime)
	FwdMS         float64   `json:"fwd_ms"`                // forward pass of the batch (inference)
	FwdVJPMS      float64   `json:"fwd_vjp_ms"`            // forward keeping activations + input VJP
	FwdVariant    string    `json:"fwd_variant,omitempty"`
	CPUEMStepMS   float64   `json:"cpu_em_step_ms"` // process CPU time per EM step
	CPUFwdMS      float64   `json:"cpu_fwd_ms"`     // process CPU time per forward
	CPUFwdVJPMS   float64   `json:"cpu_fwd_vjp_ms"` // process CPU time per forward + VJP
	Raw           any       `json:"raw,omitempty"`  // the PyTorch script's JSON
}

// Round is one round: lenscore's phases, then PyTorch's.
type Round struct {
	Load     string  `json:"loadavg"`
	Lenscore Side    `json:"lenscore"`
	Torch    *Side   `json:"torch,omitempty"`
	EMRatio  float64 `json:"em_step_ratio,omitempty"`
}

// Result is the JSON written to bench/results.
type Result struct {
	Date        string    `json:"date"`
	CPU         string    `json:"cpu"`
	Kernels     string    `json:"kernels"` // nn.KernelSummary: the kernel path in use
	GOMAXPROCS  int       `json:"gomaxprocs"`
	LoadBefore  string    `json:"loadavg_before"`
	LoadAfter   string    `json:"loadavg_after"`
	Revision    string    `json:"revision"`
	Batch       int       `json:"batch"`
	StepsTimed  int       `json:"steps_timed"`
	Reps        int       `json:"reps"`
	NRounds     int       `json:"n_rounds"`
	Model       string    `json:"model"`
	Lens        string    `json:"lens"`
	SigmaN      float64   `json:"sigma_n"`
	NNZ         int       `json:"nnz"`
	Lenscore    Side      `json:"lenscore"`
	Torch       *Side     `json:"torch,omitempty"`
	EMRatio     float64   `json:"em_step_ratio,omitempty"` // lenscore / PyTorch, wall: median over rounds of the round's ratio
	Rounds      []Round   `json:"rounds"`                  // Lenscore and Torch above are medians over these
	EMPerSample []float64 `json:"em199_s_per_sample"`      // lenscore, PyTorch: EM N/8 = 199 steps, convolved
	Settings    []Setting `json:"calibrated_settings"`
}

func main() {
	batch := flag.Int("batch", 16, "chains per batch (the network's batch)")
	steps := flag.Int("steps", 6, "EM steps per timed repetition")
	reps := flag.Int("reps", 3, "timed repetitions per round (median reported)")
	rounds := flag.Int("rounds", 3, "rounds of lenscore then PyTorch (medians over rounds reported)")
	python := flag.String("python", "/usr/bin/python3", "Python with torch for the PyTorch side")
	noTorch := flag.Bool("no-torch", false, "time lenscore only")
	outDir := flag.String("out", "", "directory for e2ebench-<date>.json (default bench/results; - for none)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of lenscore's timed EM steps to this file")
	flag.Parse()
	if err := run(*batch, *steps, *reps, *rounds, *python, *noTorch, *outDir, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "e2ebench:", err)
		os.Exit(1)
	}
}

func run(batch, steps, reps, rounds int, python string, noTorch bool, outDir, cpuProfile string) error {
	switch {
	case batch < 1 || batch > 64:
		return fmt.Errorf("-batch %d must be in [1, 64]", batch)
	case steps < 2:
		return fmt.Errorf("-steps %d must be at least 2", steps)
	case reps < 1:
		return fmt.Errorf("-reps %d must be positive", reps)
	case rounds < 1:
		return fmt.Errorf("-rounds %d must be positive", rounds)
	}
	root, err := machine.ModuleRoot("e2ebench")
	if err != nil {
		return err
	}
	if outDir == "" {
		outDir = filepath.Join(root, "bench", "results")
	}
	res := &Result{Date: time.Now().UTC().Format(time.RFC3339), CPU: machine.CPUName(), Kernels: nn.KernelSummary(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		LoadBefore: machine.LoadAvg(), Revision: machine.Revision(root), Batch: batch, StepsTimed: steps, Reps: reps, NRounds: rounds}

	g, err := nn.DefaultGemm()
	if err != nil {
		return err
	}
	model, err := models.LoadPrior64(g)
	if err != nil {
		return err
	}
	defer model.Close()
	res.Model = model.Name()
	ve, err := sde.NewVE(model.SigmaMin, model.SigmaMax)
	if err != nil {
		return err
	}
	op, y, sigmaN, err := problem()
	if err != nil {
		return err
	}
	res.Lens, res.SigmaN, res.NNZ = "SIE θ_E 1.2″ q 0.7 φ 0.3 + shear (0.03, −0.02); 64² source at 0.05″, 64² image at 0.078125″, Gaussian PSF 0.1″", sigmaN, op.NNZ()

	// lenscore: the EM loop, then the network alone; then PyTorch; round
	// after round, so that both sides of a ratio see similar load.
	prior, err := posterior.NewNetworkPrior(model.Net, ve, dim, batch)
	if err != nil {
		return err
	}
	lik, err := posterior.NewConvolved(op, y, []float64{sigmaN}, nil, ve.Sigma)
	if err != nil {
		return err
	}
	var tdir string
	if !noTorch {
		if tdir, err = writeTorchInputs(model.Net.Params(), op, y, sigmaN, ve); err != nil {
			return err
		}
		defer os.RemoveAll(tdir)
	}
	var prof *os.File
	for r := 0; r < rounds; r++ {
		fmt.Fprintf(os.Stderr, "round %d/%d, load %s\n", r+1, rounds, machine.LoadAvg())
		if r == 0 && cpuProfile != "" {
			if prof, err = os.Create(cpuProfile); err != nil {
				return err
			}
		}
		ls, err := timeLenscore(prior, lik, ve, batch, steps, reps, prof)
		if prof != nil {
			if cerr := prof.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("-cpuprofile: %w", cerr)
			}
			prof = nil
		}
		if err != nil {
			return err
		}
		rd := Round{Load: machine.LoadAvg(), Lenscore: ls}
		if !noTorch {
			if rd.Torch, err = runTorch(python, root, tdir, batch, steps, reps); err != nil {
				return err
			}
			rd.EMRatio = ls.EMStepMS / rd.Torch.EMStepMS
		}
		res.Rounds = append(res.Rounds, rd)
	}
	res.Lenscore = medianSide(res.Rounds, func(r Round) *Side { return &r.Lenscore })
	if !noTorch {
		t := medianSide(res.Rounds, func(r Round) *Side { return r.Torch })
		res.Torch = &t
		var q []float64
		for _, r := range res.Rounds {
			q = append(q, r.EMRatio)
		}
		res.EMRatio = machine.Median(q)
	}
	res.LoadAfter = machine.LoadAvg()

	const n8 = 199
	res.EMPerSample = []float64{res.Lenscore.EMStepMS * n8 / float64(batch) / 1e3}
	if res.Torch != nil {
		res.EMPerSample = append(res.EMPerSample, res.Torch.EMStepMS*n8/float64(batch)/1e3)
	}
	for _, s := range []struct {
		name, sampler string
		steps         int
	}{{"calibrated (EM N/8)", posterior.SamplerEM, n8}, {"low-evaluation (dpm2 40)", posterior.SamplerMultistep, 40}} {
		j := jacobianSteps(ve, s.steps, 0.3)
		st := Setting{Name: s.name, Sampler: s.sampler, Steps: s.steps, Jacobian: j, Equiv: s.steps + 2*j}
		st.GoNetS = (float64(s.steps-j)*res.Lenscore.FwdMS + float64(j)*res.Lenscore.FwdVJPMS) / float64(batch) / 1e3
		if res.Torch != nil {
			st.TorchNetS = (float64(s.steps-j)*res.Torch.FwdMS + float64(j)*res.Torch.FwdVJPMS) / float64(batch) / 1e3
		}
		res.Settings = append(res.Settings, st)
	}
	printTable(os.Stdout, res)
	if outDir == "-" {
		return nil
	}
	js, err := json.MarshalIndent(res, "", " ")
	if err != nil {
		return err
	}
	path := filepath.Join(outDir, "e2ebench-"+time.Now().UTC().Format("2006-01-02T1504")+".json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists; not overwriting it", path)
	}
	if err := atomicfile.WriteFile(path, append(js, '\n')); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", path)
	return nil
}

// timeLenscore times one round of lenscore's side: reps runs of steps EM
// steps (after a warm-up run), then the network alone. With prof set, the
// timed EM runs are CPU-profiled into it.
func timeLenscore(prior *posterior.NetworkPrior, lik posterior.Likelihood, ve sde.VE, batch, steps, reps int, prof *os.File) (Side, error) {
	var wall, cpu, inPrior []float64
	for r := 0; r <= reps; r++ {
		if r == 1 && prof != nil {
			if err := pprof.StartCPUProfile(prof); err != nil {
				return Side{}, fmt.Errorf("-cpuprofile: %w", err)
			}
			defer pprof.StopCPUProfile()
		}
		c0, t0 := machine.CPUMillis(), time.Now()
		sr, err := posterior.Sample(context.Background(), prior, lik, ve, posterior.Options{Steps: steps, Chains: batch, Seed: uint64(r + 1)})
		if err != nil {
			return Side{}, err
		}
		if r > 0 { // the first run warms up caches and the network's workspaces
			wall = append(wall, float64(time.Since(t0).Nanoseconds())/1e6/float64(steps))
			cpu = append(cpu, (machine.CPUMillis()-c0)/float64(steps))
			inPrior = append(inPrior, float64(sr.PriorTime.Nanoseconds())/1e6/float64(steps))
		}
	}
	if prof != nil {
		pprof.StopCPUProfile()
	}
	s := Side{EMStepMS: machine.Median(wall), EMStepSamples: wall, CPUEMStepMS: machine.Median(cpu), EMPriorMS: machine.Median(inPrior)}
	var err error
	s.FwdMS, s.FwdVJPMS, s.CPUFwdMS, s.CPUFwdVJPMS, err = timeNetwork(prior, batch, reps, ve)
	if err != nil {
		return Side{}, err
	}
	fmt.Fprintf(os.Stderr, "lenscore: EM step %.0f ms (%.0f ms in the network), forward %.0f ms, forward+VJP %.0f ms (batch %d)\n", s.EMStepMS, s.EMPriorMS, s.FwdMS, s.FwdVJPMS, batch)
	return s, nil
}

// medianSide is the median over rounds of each of a side's timings.
func medianSide(rounds []Round, side func(Round) *Side) Side {
	var out Side
	fields := []func(*Side) *float64{
		func(s *Side) *float64 { return &s.EMStepMS }, func(s *Side) *float64 { return &s.EMPriorMS },
		func(s *Side) *float64 { return &s.FwdMS }, func(s *Side) *float64 { return &s.FwdVJPMS },
		func(s *Side) *float64 { return &s.CPUEMStepMS }, func(s *Side) *float64 { return &s.CPUFwdMS },
		func(s *Side) *float64 { return &s.CPUFwdVJPMS },
	}
	for _, f := range fields {
		var v []float64
		for _, r := range rounds {
			v = append(v, *f(side(r)))
		}
		*f(&out) = machine.Median(v)
	}
	for _, r := range rounds {
		s := side(r)
		out.EMStepSamples = append(out.EMStepSamples, s.EMStepSamples...)
		out.EMVariant, out.FwdVariant = s.EMVariant, s.FwdVariant
	}
	return out
}

// problem is the benchmark's lens: a 64×64 Gaussian-blob source behind an
// SIE + shear, observed on 64×64 pixels with a Gaussian PSF, and noise of
// 2 % of the lensed image's peak.
func problem() (*lens.Operator, []float64, float64, error) {
	mass := lens.Composite{lens.SIE{ThetaE: 1.2, Q: 0.7, Phi: 0.3}, lens.Shear{Gamma1: 0.03, Gamma2: -0.02}}
	psf, err := lens.GaussianPSF(0.1, 0.078125, 0)
	if err != nil {
		return nil, nil, 0, err
	}
	op, err := lens.NewOperator(mass, lens.Config{Obs: lens.Grid{N: side, Scale: 0.078125}, Src: lens.Grid{N: side, Scale: 0.05}, PSF: psf})
	if err != nil {
		return nil, nil, 0, err
	}
	x := make([]float64, dim)
	for i := range x {
		dx, dy := float64(i%side)-31.5, float64(i/side)-31.5
		x[i] = math.Exp(-(dx*dx + dy*dy) / (2 * 8 * 8))
	}
	y := make([]float64, dim)
	op.Apply(y, x)
	sigmaN := 0.02 * slices.Max(y)
	if err := lens.AddNoise(y, sigmaN, 1); err != nil {
		return nil, nil, 0, err
	}
	return op, y, sigmaN, nil
}

// timeNetwork times the prior's forward (inference) and forward + VJP
// (ScoreKeep + VJP) on a batch of noisy images at σ = 0.1.
func timeNetwork(prior *posterior.NetworkPrior, batch, reps int, ve sde.VE) (fwd, fvjp, cpuFwd, cpuFvjp float64, err error) {
	r := rand.New(rand.NewPCG(3, 4))
	x, v, out, vj := make([]float64, batch*dim), make([]float64, batch*dim), make([]float64, batch*dim), make([]float64, batch*dim)
	for i := range x {
		x[i], v[i] = 0.3+0.1*r.NormFloat64(), r.NormFloat64()
	}
	t := math.Log(0.1/ve.SigmaMin) / math.Log(ve.SigmaMax/ve.SigmaMin) // σ(t) = 0.1
	// Forward passes first, then the Jacobian ones: switching the network
	// between inference and training mode drops its cached weight
	// transforms, which the sampler does once per run.
	var tf, tj, cf, cj []float64
	for k := 0; k <= reps; k++ {
		c0, t0 := machine.CPUMillis(), time.Now()
		if err := prior.Score(out, x, batch, t); err != nil {
			return 0, 0, 0, 0, err
		}
		if k > 0 {
			tf, cf = append(tf, float64(time.Since(t0).Nanoseconds())/1e6), append(cf, machine.CPUMillis()-c0)
		}
	}
	for k := 0; k <= reps; k++ {
		c0, t0 := machine.CPUMillis(), time.Now()
		if err := prior.ScoreKeep(out, x, batch, t); err != nil {
			return 0, 0, 0, 0, err
		}
		if err := prior.VJP(vj, v, batch); err != nil {
			return 0, 0, 0, 0, err
		}
		if k > 0 {
			tj, cj = append(tj, float64(time.Since(t0).Nanoseconds())/1e6), append(cj, machine.CPUMillis()-c0)
		}
	}
	return machine.Median(tf), machine.Median(tj), machine.Median(cf), machine.Median(cj), nil
}

// jacobianSteps counts the steps of an N-step run (t_end 1e-3) whose σ(t_i)
// is at most below.
func jacobianSteps(ve sde.VE, steps int, below float64) int {
	n := 0
	for _, t := range sde.Times(steps, posterior.DefaultEps)[:steps] {
		if ve.Sigma(t) <= below {
			n++
		}
	}
	return n
}

// writeTorchInputs writes the network's parameters, A as CSR and the data
// to a new temporary folder for bench/torch_em.py; the caller removes it.
func writeTorchInputs(params []*nn.Param, op *lens.Operator, y []float64, sigmaN float64, ve sde.VE) (dir string, err error) {
	if dir, err = os.MkdirTemp("", "e2ebench"); err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	var pb bytes.Buffer
	type pinfo struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	}
	var infos []pinfo
	for _, p := range params {
		infos = append(infos, pinfo{p.Name, p.Shape})
		binary.Write(&pb, binary.LittleEndian, p.Data)
	}
	// Row i of A is Aᵀ e_i.
	var indptr []int64
	var indices []int32
	var values []float64
	e, row := make([]float64, dim), make([]float64, dim)
	indptr = append(indptr, 0)
	for i := 0; i < dim; i++ {
		e[i] = 1
		op.Adjoint(row, e)
		e[i] = 0
		for j, v := range row {
			if v != 0 {
				indices = append(indices, int32(j))
				values = append(values, v)
			}
		}
		indptr = append(indptr, int64(len(indices)))
	}
	// The exported rows must reproduce the operator: CSR·x against Apply.
	r := rand.New(rand.NewPCG(5, 6))
	xr, ya, yc := make([]float64, dim), make([]float64, dim), make([]float64, dim)
	for i := range xr {
		xr[i] = r.NormFloat64()
	}
	op.Apply(ya, xr)
	var dmax, smax float64
	for i := range yc {
		for k := indptr[i]; k < indptr[i+1]; k++ {
			yc[i] += values[k] * xr[indices[k]]
		}
		dmax, smax = max(dmax, math.Abs(yc[i]-ya[i])), max(smax, math.Abs(ya[i]))
	}
	if !(dmax <= 1e-12*smax) {
		return "", fmt.Errorf("exported lensing matrix differs from the operator by %g (scale %g)", dmax, smax)
	}
	var ab bytes.Buffer
	binary.Write(&ab, binary.LittleEndian, indptr)
	binary.Write(&ab, binary.LittleEndian, indices)
	binary.Write(&ab, binary.LittleEndian, values)
	binary.Write(&ab, binary.LittleEndian, y)
	hdr, _ := json.Marshal(map[string]any{"params": infos, "dim": dim, "side": side, "nnz": len(values),
		"sigma_n": sigmaN, "sigma_min": ve.SigmaMin, "sigma_max": ve.SigmaMax, "eps": posterior.DefaultEps})
	for name, b := range map[string][]byte{"e2e.json": hdr, "params.bin": pb.Bytes(), "problem.bin": ab.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// runTorch runs bench/torch_em.py on the inputs in dir.
func runTorch(python, root, dir string, batch, steps, reps int) (*Side, error) {
	script := filepath.Join(root, "bench", "torch_em.py")
	args := []string{script, "--dir", dir, "--batch", fmt.Sprint(batch), "--steps", fmt.Sprint(steps), "--reps", fmt.Sprint(reps)}
	cmd := exec.Command(python, args...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2", "MKL_NUM_THREADS=2", "OMP_WAIT_POLICY=PASSIVE")
	if _, err := os.Stat(jemalloc); err == nil {
		cmd.Env = append(cmd.Env, "LD_PRELOAD="+jemalloc)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	fmt.Fprintf(os.Stderr, "running %s %s\n", python, strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("PyTorch side (%s %s): %w", python, script, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		return nil, fmt.Errorf("PyTorch side printed invalid JSON: %w", err)
	}
	var s Side
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		return nil, err
	}
	if !(s.EMStepMS > 0 && s.FwdMS > 0 && s.FwdVJPMS > 0) {
		return nil, errors.New("PyTorch JSON lacks em_step_ms, fwd_ms or fwd_vjp_ms")
	}
	s.Raw = raw
	return &s, nil
}

func printTable(w *os.File, r *Result) {
	fmt.Fprintf(w, "e2ebench %s, %s, GOMAXPROCS %d, load %s → %s, batch %d\n", r.Date, r.CPU, r.GOMAXPROCS, r.LoadBefore, r.LoadAfter, r.Batch)
	fmt.Fprintf(w, "kernels: %s\n", r.Kernels)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tlenscore\tPyTorch\tratio")
	ratio := 0.0 // if set, the next row's ratio (else a/b)
	row := func(name string, a, b float64, unit string) {
		if r.Torch == nil {
			fmt.Fprintf(tw, "%s\t%.3g %s\t—\t—\n", name, a, unit)
			return
		}
		q := a / b
		if ratio > 0 {
			q, ratio = ratio, 0
		}
		fmt.Fprintf(tw, "%s\t%.3g %s\t%.3g %s\t%.2f\n", name, a, unit, b, unit, q)
	}
	var t Side
	if r.Torch != nil {
		t = *r.Torch
	}
	ratio = r.EMRatio
	row(fmt.Sprintf("EM step, convolved, batch %d (ratio: median of the rounds')", r.Batch), r.Lenscore.EMStepMS, t.EMStepMS, "ms")
	row("  per sample at N/8 = 199 steps", r.Lenscore.EMStepMS*199/float64(r.Batch)/1e3, t.EMStepMS*199/float64(r.Batch)/1e3, "s")
	row(fmt.Sprintf("forward, batch %d", r.Batch), r.Lenscore.FwdMS, t.FwdMS, "ms")
	row(fmt.Sprintf("forward + input VJP, batch %d", r.Batch), r.Lenscore.FwdVJPMS, t.FwdVJPMS, "ms")
	row("  CPU time: EM step", r.Lenscore.CPUEMStepMS, t.CPUEMStepMS, "ms")
	row("  CPU time: forward", r.Lenscore.CPUFwdMS, t.CPUFwdMS, "ms")
	row("  CPU time: forward + input VJP", r.Lenscore.CPUFwdVJPMS, t.CPUFwdVJPMS, "ms")
	for _, s := range r.Settings {
		row(fmt.Sprintf("network per sample, %s (%d steps, %d with VJP, %d equivalents)", s.Name, s.Steps, s.Jacobian, s.Equiv), s.GoNetS, s.TorchNetS, "s")
	}
	tw.Flush()
	if r.Torch != nil {
		for k, rd := range r.Rounds {
			fmt.Fprintf(w, "round %d (load %s): EM step %.0f / %.0f ms = %.2f, forward %.0f / %.0f ms, forward+VJP %.0f / %.0f ms\n", k+1, rd.Load,
				rd.Lenscore.EMStepMS, rd.Torch.EMStepMS, rd.EMRatio, rd.Lenscore.FwdMS, rd.Torch.FwdMS, rd.Lenscore.FwdVJPMS, rd.Torch.FwdVJPMS)
		}
	}
}
