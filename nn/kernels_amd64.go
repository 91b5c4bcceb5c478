//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// cpuKernelLevel is the best kernel path this CPU (and its operating
// system, which must save the wider registers) supports.
func cpuKernelLevel() int {
	x := &cpu.X86
	switch {
	case !x.HasAVX2 || !x.HasFMA:
		return levelPureGo
	case x.HasAVX512F && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL:
		return levelAVX512
	}
	return levelAVX2
}
