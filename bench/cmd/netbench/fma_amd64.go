//go:build !purego

package main

import "golang.org/x/sys/cpu"

//go:noescape
func fmaLoop(n int)

// haveFMA reports whether fmaLoop can run (AVX2 and FMA).
func haveFMA() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }
