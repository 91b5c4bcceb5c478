//go:build !amd64 || purego

package main

func fmaLoop(int) {}

func haveFMA() bool { return false }
