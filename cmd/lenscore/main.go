// Command lenscore draws posterior samples of the unlensed source galaxy of a
// strong gravitational lens under a score-based prior learned from real
// galaxy images. Run `lenscore help` for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one sub-command of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv carries the process's streams so commands are testable.
type cliEnv struct {
	stdout io.Writer
	stderr io.Writer
}

// errUsage marks errors whose message has already been printed with usage.
var errUsage = errors.New("usage error")

func commands() []command {
	return []command{
		{"version", "print the version and the compute back-end in use", runVersion},
		{"deflect", "write deflection angles and convergence of a lens on a grid", runDeflect},
		{"simulate", "simulate a lensed observation of a source", runSimulate},
		{"import-obs", "import a telescope image, noise map and PSF as an observation file", runImportObs},
		{"subtract-light", "fit the lens galaxy's light (Sérsic profiles) and subtract it from an observation", runSubtractLight},
		{"sample", "draw posterior samples of the source given an observation", runSample},
		{"invert", "exact linear inversion with a Gaussian prior (mean, std, evidence)", runInvert},
		{"fit-lens", "infer the SIE + shear lens from an observation (modes, posterior samples)", runFitLens},
		{"train", "train the score-based prior on a folder of galaxy images", runTrain},
		{"loss-curve", "plot the training and validation loss of a training run", runLossCurve},
		{"prior-sample", "draw unconditional samples from a trained prior", runPriorSample},
		{"prepare", "turn a galaxy picture (PNG or FITS) into a normalised source image", runPrepare},
		{"fit-grf", "fit a Gaussian random field prior to galaxy images", runFitGRF},
		{"demo", "simulate a lens of a real galaxy and sample its posterior", runDemo},
		{"export-model", "export a training run's EMA weights with model.json, log and loss curve", runExportModel},
		{"experiment", "reproduce the paper's experiments (" + strings.Join(experimentNames, ", ") + " or all), or lens-recovery", runExperiment},
		{"survey", "sample the posterior of every lens of a catalogue, each in its own folder", runSurvey},
		{"slurm-script", "write sbatch scripts: a job array of sample or survey shards and its merge", runSlurmScript},
		{"merge", "combine the part files of a sharded sample run (or index a survey) in its folder", runMerge},
		{"import-model", "import a PyTorch score_models NCSN++ checkpoint directory as a lenscore model", runImportModel},
		{"score", "evaluate the prior's score ∇log p_t(x) for each plane of a FITS image or cube", runScore},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "lenscore: posterior samples of lensed source galaxies with score-based priors")
	fmt.Fprintln(w, "\nUsage: lenscore <command> [flags]   (lenscore <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	cs := commands()
	width := 0
	for _, c := range cs {
		width = max(width, len(c.name))
	}
	for _, c := range cs {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(ctx, env, os.Args[1:]))
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, env, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(env.stderr, "lenscore %s: %v\n", c.name, err)
				if errors.Is(err, context.Canceled) {
					return 130
				}
				return 1
			}
		}
	}
	fmt.Fprintf(env.stderr, "lenscore: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return 2
}

// newFlags returns a flag set whose usage lists the command's synopsis.
func newFlags(env *cliEnv, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("lenscore "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: lenscore %s %s\n\nFlags (one or two dashes):\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and maps parse errors to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	return nil
}

// required reports a usage error when any of the named string flags is empty.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			fmt.Fprintf(fs.Output(), "missing required flag --%s\n", n)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}

type flagT = flag.Flag
