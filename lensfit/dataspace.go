package lensfit

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/floats"
)

// Route is the way LogEvidence factorises the Gaussian integral: the same
// number by two exact routes whose costs differ.
type Route int

const (
	// RouteAuto picks, per evaluation, the route with the smaller cost
	// estimate (the default).
	RouteAuto Route = iota
	// RouteSource factorises the (N+K)² posterior precision of the source.
	RouteSource
	// RouteData factorises the covariance of the data over the kept pixels
	// the lensed source reaches.
	RouteData
)

func (r Route) String() string {
	switch r {
	case RouteSource:
		return "source"
	case RouteData:
		return "data"
	}
	return "auto"
}

// Cost model of the route choice, in seconds per operation on one core,
// measured with BenchmarkLogEvidenceRoutes: a flop of the blocked Cholesky
// (OpenBLAS dpotrf) and a multiply–add of the Go loops that build the data
// covariance.
const (
	costCholFlop = 3e-11
	costGoFMA    = 6e-10
)

// dataSpace holds the buffers of the data-space route. With Σ_y the
// covariance of the kept pixels,
//
//	Σ_y = N + a² A Σ₀ Aᵀ + B diag(s_b²) Bᵀ,
//
// only the set I of kept pixels whose composed row can be non-zero couples
// pixels; the others have the diagonal N_ii (plus the components'
// rank-K part). With A = P·L (PSF taps after the lens interpolation),
// A_I Σ₀ A_Iᵀ = P_{I,J} X P_{I,J}ᵀ with X = L_J Σ₀ L_Jᵀ over the set J of
// pixels the taps of I reach whose L rows are non-empty. X is formed from
// the stationary kernel of Σ₀ (c(p−q), periodic on the source grid) as
// X_ij = Σ_{p∈L_i} l_ip G_j(p), G_j = Σ_{q∈L_j} l_jq c(· − q); then
// T = P X and the lower triangle of P Tᵀ. The K components enter by
// Woodbury's identity after the whitening by the Cholesky factor of the
// source-only part.
type dataSpace struct {
	nx, ny int
	kern2  []float64 // covariance kernel c(dy, dx) of Σ₀ tiled 2×2: (2ny)×(2nx)

	pos      []int32 // image pixel → index in J, or −1
	act, dil []int32 // I and J (image pixel indices, ascending)
	tapPtr   []int32 // taps of act[k]: tapJ/tapV[tapPtr[k]:tapPtr[k+1]]
	tapJ     []int32
	tapV     []float64

	g    []float64 // G_j for a block of j, gBlock × N
	x    []float64 // X (|J|×|J|), then Tᵀ
	t    []float64 // T = P X (|I|×|J|)
	z    []float64 // Σ_I, then its Cholesky factor (|I|×|I|)
	u    []float64 // whitened residual over the kept pixels (I first, then the rest)
	rest []int32   // kept pixels outside I
	vb   []float64 // whitened components (kept pixels × K)
	cb   []float64 // K×K: S_b⁻¹ + VᵀV, then its Cholesky factor
	db   []float64 // Vᵀu, then C⁻¹Vᵀu

	// the last evaluation, for PosteriorMean
	a2 float64
}

const gBlock = 16

// prepareKernel stores the covariance kernel of Σ₀ (its first row, which
// determines the circulant) tiled 2×2 so that every periodic shift is a
// contiguous window.
func (d *dataSpace) prepareKernel(c []float64, nx, ny int) {
	d.nx, d.ny = nx, ny
	d.kern2 = make([]float64, 4*nx*ny)
	for y := 0; y < 2*ny; y++ {
		for x := 0; x < 2*nx; x++ {
			d.kern2[y*2*nx+x] = c[(y%ny)*nx+x%nx]
		}
	}
}

// kernelAxpy adds s·c(p − q) to dst (N values, p over the source grid).
func (d *dataSpace) kernelAxpy(dst []float64, s float64, q int) {
	nx, ny := d.nx, d.ny
	qy, qx := q/nx, q%nx
	// c(p−q) at p = (py, px) is kern2[ny−qy+py][nx−qx+px].
	for py := 0; py < ny; py++ {
		floats.AddScaled(dst[py*nx:py*nx+nx], s, d.kern2[(ny-qy+py)*2*nx+nx-qx:][:nx])
	}
}

// applyKernel sets dst = Σ₀ v by the stationary kernel (N² work; used only
// for the posterior mean).
func (d *dataSpace) applyKernel(dst, v []float64) {
	clear(dst)
	for q, s := range v {
		if s != 0 {
			d.kernelAxpy(dst, s, q)
		}
	}
}

// dataSets finds I, J, the kept pixels outside I and the taps of I (as
// indices into J) of the last Build. It returns |I| and |J|.
func (e *Evidence) dataSets() (int, int) {
	d := &e.ds
	n := e.cfgN
	psf := e.rows.Config().PSF
	if cap(d.pos) < e.m {
		d.pos = make([]int32, e.m)
	}
	pos := d.pos[:e.m]
	for i := range pos {
		pos[i] = -1
	}
	d.act, d.dil, d.rest = d.act[:0], d.dil[:0], d.rest[:0]
	d.tapPtr, d.tapJ, d.tapV = append(d.tapPtr[:0], 0), d.tapJ[:0], d.tapV[:0]
	// First pass: mark J, collecting the taps as image pixel indices.
	for i := 0; i < e.m; i++ {
		if e.w[i] == 0 {
			continue
		}
		start := len(d.tapJ)
		if psf == nil {
			if idx, _ := e.rows.LensRow(i); len(idx) > 0 {
				d.tapJ, d.tapV = append(d.tapJ, int32(i)), append(d.tapV, 1)
			}
		} else {
			rr, c := i/n, i%n
			hr, hc := psf.Rows/2, psf.Cols/2
			for ka := max(0, rr+hr-n+1); ka < min(psf.Rows, rr+hr+1); ka++ {
				sr := rr - (ka - hr)
				for kb := max(0, c+hc-n+1); kb < min(psf.Cols, c+hc+1); kb++ {
					kv := psf.Kernel[ka*psf.Cols+kb]
					if kv == 0 {
						continue
					}
					s := sr*n + c - (kb - hc)
					if idx, _ := e.rows.LensRow(s); len(idx) > 0 {
						d.tapJ, d.tapV = append(d.tapJ, int32(s)), append(d.tapV, kv)
					}
				}
			}
		}
		if len(d.tapJ) == start {
			d.rest = append(d.rest, int32(i))
			continue
		}
		d.act = append(d.act, int32(i))
		d.tapPtr = append(d.tapPtr, int32(len(d.tapJ)))
		for _, s := range d.tapJ[start:] {
			pos[s] = 0
		}
	}
	for s := range pos {
		if pos[s] == 0 {
			pos[s] = int32(len(d.dil))
			d.dil = append(d.dil, int32(s))
		}
	}
	for t, s := range d.tapJ {
		d.tapJ[t] = pos[s]
	}
	return len(d.act), len(d.dil)
}

// routeCosts returns the estimated costs (seconds on one core) of the
// data-space route with |I| = mi, |J| = mj and of the source-space route of
// order ld, from the cost model above and the sizes of the last Build.
func (e *Evidence) routeCosts(mi, mj, ld int) (data, source float64) {
	fi, fj, fn := float64(mi), float64(mj), float64(e.n)
	taps := float64(len(e.ds.tapJ)) / max(fi, 1)
	lnz := float64(e.lnnz) / max(float64(e.m), 1)
	data = costCholFlop*fi*fi*fi/3 + costGoFMA*(fj*lnz*fn+fj*fj*lnz+taps*fi*fj+taps*fi*fi/2)
	fl := float64(ld)
	source = costCholFlop*fl*fl*fl/3 + costGoFMA*e.acc
	return data, source
}

// logEvidenceData is the data-space route of LogEvidence after dataSets;
// r holds the residual (M pixels), logA = ln a.
func (e *Evidence) logEvidenceData(r []float64, logA float64, extra []Component) (float64, error) {
	d := &e.ds
	mi, mj := len(d.act), len(d.dil)
	n := e.n
	a2 := math.Exp(2 * logA)
	if cap(d.x) < mj*max(mj, mi) {
		d.x = make([]float64, mj*max(mj, mi))
	}
	if cap(d.t) < mi*mj {
		d.t = make([]float64, mi*mj)
	}
	if cap(d.z) < mi*mi {
		d.z = make([]float64, mi*mi)
	}
	x, t, z := d.x[:mj*mj], d.t[:mi*mj], d.z[:mi*mi]
	threads := e.goThreads
	if mi*mj < 1<<16 {
		threads = 1
	}
	if cap(d.g) < threads*gBlock*n {
		d.g = make([]float64, threads*gBlock*n)
	}
	// X = L_J Σ₀ L_Jᵀ, row by row (X is symmetric: row j is column j), in
	// blocks of gBlock rows per G buffer.
	nBlocks := (mj + gBlock - 1) / gBlock
	parallel(threads, nBlocks, false, func(w, lo, hi int) {
		g := d.g[w*gBlock*n : (w+1)*gBlock*n]
		for j0 := lo * gBlock; j0 < min(hi*gBlock, mj); j0 += gBlock {
			nb := min(gBlock, mj-j0)
			clear(g[:nb*n])
			for b := 0; b < nb; b++ {
				idx, val := e.rows.LensRow(int(d.dil[j0+b]))
				gb := g[b*n : b*n+n]
				if d.kern2 == nil {
					for q, jq := range idx {
						gb[jq] += e.isoS * e.isoS * val[q]
					}
					continue
				}
				for q, jq := range idx {
					d.kernelAxpy(gb, val[q], int(jq))
				}
			}
			for i, pi := range d.dil {
				idx, val := e.rows.LensRow(int(pi))
				for b := 0; b < nb; b++ {
					gb := g[b*n : b*n+n]
					var s float64
					for q, jq := range idx {
						s += val[q] * gb[jq]
					}
					x[(j0+b)*mj+i] = s
				}
			}
		}
	})
	// T = P X (|I|×|J|).
	parallel(threads, mi, false, func(_, lo, hi int) {
		for k := lo; k < hi; k++ {
			row := t[k*mj : k*mj+mj]
			clear(row)
			for tp := d.tapPtr[k]; tp < d.tapPtr[k+1]; tp++ {
				floats.AddScaled(row, d.tapV[tp], x[int(d.tapJ[tp])*mj:][:mj])
			}
		}
	})
	// Tᵀ into x (|J|×|I|).
	tt := x[:mj*mi]
	const blk = 32
	parallel(threads, (mj+blk-1)/blk, false, func(_, lo, hi int) {
		for i0 := lo * blk; i0 < min(hi*blk, mj); i0 += blk {
			for k0 := 0; k0 < mi; k0 += blk {
				for k := k0; k < min(k0+blk, mi); k++ {
					for i := i0; i < min(i0+blk, mj); i++ {
						tt[i*mi+k] = t[k*mj+i]
					}
				}
			}
		}
	})
	// Σ_I lower triangle: row l = a² Σ_t p_lt Tᵀ[s_t(l)][0..l] + N_ll.
	parallel(threads, mi, true, func(_, lo, hi int) {
		for l := lo; l < hi; l++ {
			row := z[l*mi : l*mi+l+1]
			clear(row)
			for tp := d.tapPtr[l]; tp < d.tapPtr[l+1]; tp++ {
				floats.AddScaled(row, d.tapV[tp], tt[int(d.tapJ[tp])*mi:][:l+1])
			}
			floats.Scale(a2, row)
			row[l] += 1 / e.w[d.act[l]]
		}
	})
	if mi > 0 {
		if err := e.lib.Cholesky(mi, z); err != nil {
			return 0, fmt.Errorf("lensfit: evidence: data covariance: %w", err)
		}
	}
	// Whitened residual: u_I = L⁻¹ r_I, u_rest = √w r.
	mk := mi + len(d.rest)
	if cap(d.u) < mk {
		d.u = make([]float64, mk)
	}
	u := d.u[:mk]
	var logDet float64 // log det Σ_y (without the components)
	for k, i := range d.act {
		u[k] = r[i]
		logDet += 2 * math.Log(z[k*mi+k])
	}
	if mi > 0 {
		e.lib.Trsm(true, true, false, false, mi, 1, 1, z, mi, u[:mi], 1)
	}
	for k, i := range d.rest {
		sw := math.Sqrt(e.w[i])
		u[mi+k] = sw * r[i]
		logDet -= math.Log(e.w[i])
	}
	var uu float64
	for _, v := range u {
		uu += v * v
	}
	if k := len(extra); k > 0 {
		if cap(d.vb) < mk*k {
			d.vb = make([]float64, mk*k)
		}
		if cap(d.cb) < k*k {
			d.cb, d.db = make([]float64, k*k), make([]float64, k)
		}
		vb, cb, db := d.vb[:mk*k], d.cb[:k*k], d.db[:k]
		for a, comp := range extra {
			for q, i := range d.act {
				vb[q*k+a] = comp.Image[i]
			}
			for q, i := range d.rest {
				vb[(mi+q)*k+a] = math.Sqrt(e.w[i]) * comp.Image[i]
			}
		}
		if mi > 0 {
			e.lib.Trsm(true, true, false, false, mi, k, 1, z, mi, vb[:mi*k], k)
		}
		// C = S_b⁻¹ + VᵀV, d = Vᵀu.
		clear(cb)
		clear(db)
		for q := 0; q < mk; q++ {
			v := vb[q*k : q*k+k]
			for a := 0; a < k; a++ {
				db[a] += v[a] * u[q]
				for b := 0; b <= a; b++ {
					cb[a*k+b] += v[a] * v[b]
				}
			}
		}
		for a, comp := range extra {
			cb[a*k+a] += 1 / (comp.Sigma * comp.Sigma)
			logDet += 2 * math.Log(comp.Sigma)
		}
		if err := e.lib.Cholesky(k, cb); err != nil {
			return 0, fmt.Errorf("lensfit: evidence: component covariance: %w", err)
		}
		for a := 0; a < k; a++ {
			logDet += 2 * math.Log(cb[a*k+a])
		}
		e.lib.Trsm(true, true, false, false, k, 1, 1, cb, k, db, 1)
		for _, v := range db {
			uu -= v * v
		}
	}
	d.a2 = a2
	return -0.5 * (uu + logDet + float64(e.mEff)*math.Log(2*math.Pi)), nil
}

// posteriorMeanData is PosteriorMean after a data-space evaluation:
// x̂ = μ₀ + a²Σ₀Aᵀz, b̂ = m_b + s_b² Bᵀz with z = Σ_y⁻¹ r.
func (e *Evidence) posteriorMeanData(src, amps []float64) {
	d := &e.ds
	mi := len(d.act)
	mk := mi + len(d.rest)
	k := e.k
	w := append([]float64(nil), d.u[:mk]...)
	if k > 0 {
		// d.db holds R_b⁻¹ Vᵀu; C⁻¹Vᵀu = R_b⁻ᵀ of it; w = u − V C⁻¹ Vᵀu.
		cv := append([]float64(nil), d.db[:k]...)
		e.lib.Trsm(true, true, true, false, k, 1, 1, d.cb[:k*k], k, cv, 1)
		for q := 0; q < mk; q++ {
			for a := 0; a < k; a++ {
				w[q] -= d.vb[q*k+a] * cv[a]
			}
		}
	}
	if mi > 0 {
		e.lib.Trsm(true, true, true, false, mi, 1, 1, d.z[:mi*mi], mi, w[:mi], 1)
	}
	zfull := make([]float64, e.m)
	for q, i := range d.act {
		zfull[i] = w[q]
	}
	for q, i := range d.rest {
		zfull[i] = math.Sqrt(e.w[i]) * w[mi+q]
	}
	at := make([]float64, e.n)
	for i := 0; i < e.m; i++ {
		if zfull[i] == 0 {
			continue
		}
		idx, val := e.rows.Row(i)
		for q, j := range idx {
			at[j] += val[q] * zfull[i]
		}
	}
	if d.kern2 != nil {
		d.applyKernel(src, at)
	} else {
		for j, v := range at {
			src[j] = e.isoS * e.isoS * v
		}
	}
	for j := range src {
		src[j] = e.mu0[j] + d.a2*src[j]
	}
	for a := range amps {
		var s float64
		for i, v := range e.extra[a].Image {
			s += v * zfull[i]
		}
		amps[a] = e.extra[a].Mean + e.extra[a].Sigma*e.extra[a].Sigma*s
	}
}

// parallel runs f(w, lo, hi) on threads goroutines over a split of [0, n):
// equal parts, or, with tri, parts of equal area of a lower triangle (row
// i costing i+1).
func parallel(threads, n int, tri bool, f func(w, lo, hi int)) {
	if threads <= 1 || n < 2*threads {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	lo := 0
	for w := 0; w < threads; w++ {
		hi := n * (w + 1) / threads
		if tri {
			hi = int(float64(n) * math.Sqrt(float64(w+1)/float64(threads)))
		}
		if w == threads-1 {
			hi = n
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			f(w, lo, hi)
		}(w, lo, hi)
		lo = hi
	}
	wg.Wait()
}
