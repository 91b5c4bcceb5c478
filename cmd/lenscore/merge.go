package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/shard"
	"github.com/lenscore/lenscore/survey"
)

// sampleTiming is written to timing.json: what depends on the run (wall
// time, machine, back-end) rather than on the settings and seed, so that
// summary.json of a sharded and merged run is byte-identical to an
// unsharded one.
type sampleTiming struct {
	WallSeconds  float64 `json:"wall_seconds"`
	PriorSeconds float64 `json:"prior_seconds"`
	OtherSeconds float64 `json:"other_seconds"`
	CGIterations float64 `json:"cg_iterations,omitempty"` // projected likelihood: mean per score (since the last resume)
	Backend      string  `json:"gemm_backend"`
	Host         string  `json:"host,omitempty"`
	// CPUSeconds is the process's CPU time (user + system) when the
	// outputs were written: with the wall time, how loaded the machine was.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// Merged runs: one entry per shard, in shard order; WallSeconds above is
	// then the sum over shards (CPU-job seconds, not elapsed time).
	Shards []sampleTiming `json:"shards,omitempty"`
}

// timingOf returns the run-dependent part of a summary.
func timingOf(s *sampleSummary) *sampleTiming {
	if s.Timing != nil {
		return s.Timing
	}
	host, _ := os.Hostname()
	return &sampleTiming{WallSeconds: s.WallSeconds, PriorSeconds: s.PriorSeconds, OtherSeconds: s.OtherSeconds,
		CGIterations: s.CGIterations, Backend: s.Backend, Host: host, CPUSeconds: cpuSeconds()}
}

// applySlurmThreads sets GOMAXPROCS to SLURM_CPUS_PER_TASK inside a Slurm
// task (unless GOMAXPROCS is set explicitly), so the sampler's workers and
// the BLAS threads use the CPUs the task was given.
func applySlurmThreads(env *cliEnv) error {
	n, ok, err := shard.Threads(os.Getenv)
	if err != nil || !ok || os.Getenv("GOMAXPROCS") != "" {
		return err
	}
	if runtime.GOMAXPROCS(0) != n {
		runtime.GOMAXPROCS(n)
		fmt.Fprintf(env.stderr, "%s=%d: using %d threads\n", shard.EnvCPUs, n, n)
	}
	return nil
}

// keyExcluded are sample flags that do not change the samples.
var keyExcluded = map[string]bool{"out": true, "shard": true, "resume": true, "checkpoint-minutes": true, "batch": true}

// fileHash returns "sha256:…" of a file's contents.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hashedFlags are the flags naming input files whose contents define a run.
var hashedFlags = []string{"obs", "lens", "noise-map", "mask", "psf", "model", "proxy"}

// runKey describes everything that defines a sampling run: every flag
// except keyExcluded (as "flag:NAME"), the contents of its input files
// ("file:NAME"), the prior's and likelihood's fingerprints (the latter
// hashes A, y, the noise and the mask), the summary of its settings and,
// for network priors, the GEMM kernel and the program version.
func runKey(fs *flag.FlagSet, pr *loadedPrior, lik posterior.Likelihood, sum []byte) (map[string]string, error) {
	key := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if !keyExcluded[f.Name] {
			key["flag:"+f.Name] = f.Value.String()
		}
	})
	for _, n := range hashedFlags {
		if v := key["flag:"+n]; v != "" && !(n == "model" && v == builtinModel) {
			h, err := fileHash(v)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", n, err)
			}
			key["file:"+n] = h
		}
	}
	key["prior"] = pr.Name
	if fp, ok := pr.Prior.(posterior.Fingerprinter); ok {
		key["prior"] += " " + fp.Fingerprint()
	}
	if fp, ok := lik.(posterior.Fingerprinter); ok {
		key["likelihood"] = fp.Fingerprint()
	}
	key["summary"] = string(sum)
	if pr.Gaussian == nil { // float32 network: results depend on the kernel
		if g, err := nn.DefaultGemm(); err == nil {
			key["gemm"] = nn.EngineGemm(g).Name()
		}
		key["version"] = versionString()
	}
	return key, nil
}

// runShard samples the chains of one shard and writes its part file into
// dir. A shard whose part exists with the same key has nothing to do; its
// checkpoint (one per shard) is resumed automatically, so a requeued or
// re-run task continues where it stopped.
func runShard(ctx context.Context, env *cliEnv, fs *flag.FlagSet, dir string, spec shard.Spec, p *problem, pr *loadedPrior,
	lik posterior.Likelihood, opt posterior.Options, sf *samplerFlags, noiseMap string, total int) error {
	partPath := filepath.Join(dir, shard.PartName(spec.Index, spec.Count))
	sf.ckName, sf.autoResume = shard.CheckpointName(spec.Index, spec.Count), true
	keyOf := func(sum *sampleSummary) (map[string]string, []byte, error) {
		sum.Samples = total
		sum.NoiseMap = noiseMap
		b, err := json.Marshal(sum)
		if err != nil {
			return nil, nil, err
		}
		key, err := runKey(fs, pr, lik, b)
		return key, b, err
	}
	if old, err := shard.ReadPart(partPath); err == nil {
		var osum sampleSummary
		if err := json.Unmarshal(old.Summary, &osum); err != nil {
			return fmt.Errorf("%s: summary: %w", partPath, err)
		}
		osum.Timing = nil
		key, _, err := keyOf(&osum)
		if err != nil {
			return err
		}
		if d := shard.KeyDiff(old.Key, key); len(d) > 0 {
			return fmt.Errorf("%s holds shard %s of another run (differs in %s); use another --out", partPath, spec, strings.Join(d, ", "))
		}
		fmt.Fprintf(env.stdout, "shard %s already done: %s\n", spec, partPath)
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, sf.ckName)); err == nil {
		fmt.Fprintf(env.stderr, "shard %s: resuming from %s\n", spec, filepath.Join(dir, sf.ckName))
	}
	res, sum, err := runChains(ctx, env, dir, p, pr, lik, opt, sf)
	if err != nil {
		return err
	}
	tm := timingOf(sum)
	key, sb, err := keyOf(sum)
	if err != nil {
		return err
	}
	tb, err := json.Marshal(tm)
	if err != nil {
		return err
	}
	wd, _ := os.Getwd()
	part := &shard.Part{Manifest: shard.Manifest{Shard: spec.Index, Count: spec.Count, FirstChain: int(opt.FirstChain), Chains: len(res.Samples),
		TotalChains: total, Key: key, Summary: sb, Timing: tb, Dir: wd}, Samples: res.Samples}
	if _, err := shard.WritePart(dir, part); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, sf.ckName))
	fmt.Fprintf(env.stdout, "shard %s: wrote samples %d…%d of %d to %s (%.1f s); combine the parts with: lenscore merge %s\n",
		spec, opt.FirstChain, int(opt.FirstChain)+len(res.Samples)-1, total, partPath, sum.WallSeconds, dir)
	return nil
}

// mergeRecord is merge.json: which run's parts a merge combined, so a
// repeated merge may rewrite its own results but never another run's.
type mergeRecord struct {
	Parts    []string `json:"parts"`
	KeyHash  string   `json:"key_sha256"`
	MergedAt string   `json:"merged_at"`
}

func keyHash(key map[string]string) string {
	names := make([]string, 0, len(key))
	for k := range key {
		names = append(names, k)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, k := range names {
		fmt.Fprintf(h, "%q=%q\n", k, key[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func runMerge(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "merge", "[--remove-parts] DIR   (the --out folder of lenscore sample --shard, or of lenscore survey)")
	removeParts := fs.Bool("remove-parts", false, "delete the part files after a successful merge (a later merge of the folder then has nothing to do)")
	flags, pos := splitPositional(args)
	if err := parseFlags(fs, flags); err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprintf(env.stderr, "merge takes one folder, got %d arguments\n", len(pos))
		fs.Usage()
		return errUsage
	}
	dir := pos[0]
	if st, err := os.Stat(dir); err != nil {
		return err
	} else if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, survey.RunFile)); err == nil {
		return mergeSurvey(env, dir)
	}
	return mergeSample(env, dir, *removeParts)
}

// splitPositional separates flags (with their values) from positional
// arguments, so the folder may come before or after flags.
func splitPositional(args []string) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
			continue
		}
		pos = append(pos, a)
	}
	return flags, pos
}

func mergeSample(env *cliEnv, dir string, removeParts bool) error {
	start := time.Now()
	parts, err := shard.Collect(dir)
	if errors.Is(err, shard.ErrNoParts) {
		if b, rerr := os.ReadFile(filepath.Join(dir, "merge.json")); rerr == nil {
			var rec mergeRecord
			if json.Unmarshal(b, &rec) == nil && len(rec.Parts) > 0 {
				fmt.Fprintf(env.stdout, "%s was merged already from %d parts (merge.json) and its parts removed; nothing to do\n", dir, len(rec.Parts))
				return nil
			}
		}
	}
	if err != nil {
		return err
	}
	ref := parts[0]
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = filepath.Base(p.Path)
	}
	kh := keyHash(ref.Key)
	lk, err := lockOutDir(dir, dirlock.DefaultName)
	if err != nil {
		return err
	}
	defer lk.Release()
	if _, err := os.Stat(filepath.Join(dir, "summary.json")); err == nil {
		var rec mergeRecord
		b, rerr := os.ReadFile(filepath.Join(dir, "merge.json"))
		if rerr != nil || json.Unmarshal(b, &rec) != nil || rec.KeyHash != kh {
			return fmt.Errorf("%s already holds the results of another run (summary.json, not merged from these parts); merge refuses to overwrite them", dir)
		}
	}
	// Rebuild the problem (observation, lens, noise, mask, PSF) from the
	// recorded flags, relative paths taken from the shard's working
	// directory.
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pf := addProblemFlags(fs)
	var perr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := ref.Key["flag:"+f.Name]; ok && perr == nil {
			if err := f.Value.Set(v); err != nil {
				perr = fmt.Errorf("%s: --%s=%q: %w", ref.Path, f.Name, v, err)
			}
		}
	})
	if perr != nil {
		return perr
	}
	obsArg, lensArg := *pf.obs, *pf.lens
	for _, s := range []*string{pf.obs, pf.lens, pf.noiseMap, pf.mask, pf.psf} {
		if *s != "" && !filepath.IsAbs(*s) && ref.Dir != "" {
			*s = filepath.Join(ref.Dir, *s)
		}
	}
	for _, n := range hashedFlags {
		want := ref.Key["file:"+n]
		if want == "" || n == "model" || n == "proxy" {
			continue
		}
		path := fs.Lookup(n).Value.String()
		got, err := fileHash(path)
		if err != nil {
			return fmt.Errorf("merge %s: input --%s of the parts: %w", dir, n, err)
		}
		if got != want {
			return fmt.Errorf("merge %s: %s (--%s) changed since the parts were sampled", dir, path, n)
		}
	}
	p, err := pf.load()
	if err != nil {
		return fmt.Errorf("merge %s: %w", dir, err)
	}
	p.ObsPath, p.LensPath = obsArg, lensArg
	var sum sampleSummary
	if err := json.Unmarshal(ref.Summary, &sum); err != nil {
		return fmt.Errorf("%s: summary: %w", ref.Path, err)
	}
	samples := shard.Samples(parts)
	if len(samples) != sum.Samples {
		return fmt.Errorf("%s: %d samples in the parts, the run has %d", dir, len(samples), sum.Samples)
	}
	tm := &sampleTiming{}
	for _, p := range parts {
		var t sampleTiming
		if err := json.Unmarshal(p.Timing, &t); err != nil {
			return fmt.Errorf("%s: timing: %w", p.Path, err)
		}
		tm.WallSeconds += t.WallSeconds
		tm.PriorSeconds += t.PriorSeconds
		tm.OtherSeconds += t.OtherSeconds
		tm.CPUSeconds += t.CPUSeconds
		if tm.Backend == "" {
			tm.Backend = t.Backend
		} else if tm.Backend != t.Backend {
			tm.Backend = "mixed"
		}
		tm.Shards = append(tm.Shards, t)
	}
	sum.Timing = tm
	if err := writeSampleOutputs(dir, p, samples, &sum, "Posterior samples: "+sum.Prior); err != nil {
		return err
	}
	if err := experiment.WriteJSON(filepath.Join(dir, "merge.json"), mergeRecord{Parts: names, KeyHash: kh, MergedAt: time.Now().UTC().Format(time.RFC3339)}); err != nil {
		return err
	}
	warnDiverged(env, &sum)
	if removeParts {
		for _, p := range parts {
			if err := os.Remove(p.Path); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(env.stdout, "merged %d parts (%d samples, %.0f job-seconds) into %s: χ²_ν of the mean %.3f, ν=%d (%.1f s)\n",
		len(parts), len(samples), tm.WallSeconds, dir, sum.Chi2NuMean, sum.Nu, time.Since(start).Seconds())
	return nil
}
