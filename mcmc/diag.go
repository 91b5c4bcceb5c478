package mcmc

import (
	"fmt"
	"math"
)

// SplitRHat returns split-R̂ of one parameter from chains[m][t] (M chains of
// equal length n ≥ 4).
func SplitRHat(chains [][]float64) (float64, error) {
	if len(chains) == 0 {
		return 0, fmt.Errorf("mcmc: R̂ of no chains")
	}
	n := len(chains[0])
	if n < 4 {
		return 0, fmt.Errorf("mcmc: R̂ needs chains of ≥ 4 draws, got %d", n)
	}
	h := n / 2
	var halves [][]float64
	for _, c := range chains {
		if len(c) != n {
			return 0, fmt.Errorf("mcmc: chains of unequal length %d and %d", len(c), n)
		}
		halves = append(halves, c[:h], c[n-h:])
	}
	means := make([]float64, len(halves))
	var w, grand float64
	for i, c := range halves {
		m := mean(c)
		means[i] = m
		grand += m
		var s float64
		for _, v := range c {
			s += (v - m) * (v - m)
		}
		w += s / float64(h-1)
	}
	k := float64(len(halves))
	grand /= k
	w /= k
	var b float64
	for _, m := range means {
		b += (m - grand) * (m - grand)
	}
	b *= float64(h) / (k - 1)
	if w == 0 {
		if b == 0 {
			return 1, nil
		}
		return math.Inf(1), nil
	}
	v := float64(h-1)/float64(h)*w + b/float64(h)
	return math.Sqrt(v / w), nil
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// AutocorrTime returns the integrated autocorrelation time τ of one
// parameter from chains[m][t], from the autocorrelation of the chains
// averaged over the ensemble with Sokal's window (c = 5), and the effective
// sample size M·n/τ. τ is at least 1.
func AutocorrTime(chains [][]float64) (tau, ess float64, err error) {
	if len(chains) == 0 || len(chains[0]) < 2 {
		return 0, 0, fmt.Errorf("mcmc: autocorrelation of no draws")
	}
	n := len(chains[0])
	means := make([]float64, len(chains))
	for k, c := range chains {
		if len(c) != n {
			return 0, 0, fmt.Errorf("mcmc: chains of unequal length %d and %d", len(c), n)
		}
		means[k] = mean(c)
	}
	// rho(t): autocovariance at lag t summed over the chains, computed only
	// up to the window.
	rho := func(t int) float64 {
		var s float64
		for k, c := range chains {
			m := means[k]
			for i := 0; i+t < n; i++ {
				s += (c[i] - m) * (c[i+t] - m)
			}
		}
		return s
	}
	r0 := rho(0)
	if r0 == 0 {
		return 1, float64(len(chains) * n), nil
	}
	tau = 1
	for t := 1; t < n; t++ {
		tau += 2 * rho(t) / r0
		if float64(t) >= 5*tau {
			break
		}
	}
	tau = math.Max(tau, 1)
	return tau, float64(len(chains)*n) / tau, nil
}
