package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/lenscore/lenscore/nn"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version or VCS revision recorded by the Go tool is shown.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

// backendLine describes the GEMM back-end that the network will use.
func backendLine() string {
	g, err := nn.DefaultGemm()
	if err != nil {
		return "unavailable: " + err.Error()
	}
	return fmt.Sprintf("%s, %d worker goroutines", nn.EngineGemm(g).Name(), runtime.GOMAXPROCS(0))
}

func runVersion(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "lenscore %s (%s, %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(env.stdout, "gemm back-end: %s\n", backendLine())
	fmt.Fprintf(env.stdout, "kernels: %s\n", nn.KernelSummary())
	return nil
}
