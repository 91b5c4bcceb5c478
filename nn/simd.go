package nn

// Row kernels shared by GroupNorm and attention. Each uses the AVX2+FMA
// assembly of simd_amd64.s for the largest multiple of 8 elements when the
// CPU has it and plain Go for the rest; both evaluate the same formulas
// (the vector exp rounds k = round(x·log2 e) to nearest-even and fuses
// multiply-adds, so results agree to float32 rounding). Which path runs
// depends only on the CPU, never on the batch or worker count, so outputs
// stay bitwise reproducible on one machine.

// gnSiluRow computes h = (x−m)·r, a = gam·h + bet, s = σ(a), y = a·s.
// xh and sg receive h and s unless they are nil (inference).
func gnSiluRow(x, xh, sg, y []float32, m, r, gam, bet float32) {
	n := len(x)
	y = y[:n]
	store := 0
	if xh != nil {
		xh, sg = xh[:n], sg[:n]
		store = 1
	}
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		var ph, ps *float32
		if store != 0 {
			ph, ps = &xh[0], &sg[0]
		}
		gnSiluFwdVec(&x[0], ph, ps, &y[0], v, m, r, gam, bet, store)
		j = v
	}
	for ; j < n; j++ {
		h := (x[j] - m) * r
		a := gam*h + bet
		s := sigmoid(a)
		if store != 0 {
			xh[j], sg[j] = h, s
		}
		y[j] = a * s
	}
}

// gnSiluBwdRow computes da = dy·s·(1 + a(1−s)) with a = gam·h + bet,
// stores dx = gam·da and returns Σ da·h and Σ da.
func gnSiluBwdRow(h, dy, sg, dx []float32, gam, bet float32) (sgam, sbet float32) {
	n := len(h)
	dy, sg, dx = dy[:n], sg[:n], dx[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		var acc [16]float32
		gnSiluBwdVec(&h[0], &dy[0], &sg[0], &dx[0], v, gam, bet, &acc)
		sgam, sbet = hsum8(acc[:8]), hsum8(acc[8:])
		j = v
	}
	for ; j < n; j++ {
		a := gam*h[j] + bet
		s := sg[j]
		da := dy[j] * s * (1 + a*(1-s))
		sgam += da * h[j]
		sbet += da
		dx[j] = gam * da
	}
	return sgam, sbet
}

// gnBwdFinish computes ds = r·(ds − m1 − h·m2).
func gnBwdFinish(ds, h []float32, r, m1, m2 float32) {
	n := len(ds)
	h = h[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		gnBwdFinishVec(&ds[0], &h[0], v, r, m1, m2)
		j = v
	}
	for ; j < n; j++ {
		ds[j] = r * (ds[j] - m1 - h[j]*m2)
	}
}

// expSub replaces row by e^(row − m) and returns its sum.
func expSub(row []float32, m float32) float32 {
	n := len(row)
	var sum float32
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		var acc [8]float32
		expSubVec(&row[0], v, m, &acc)
		sum = hsum8(acc[:])
		j = v
	}
	for ; j < n; j++ {
		e := expf(row[j] - m)
		row[j] = e
		sum += e
	}
	return sum
}

// hsum8 adds 8 lane sums in a fixed pairwise order.
func hsum8(a []float32) float32 {
	return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

// meanVar returns the mean of x and Σ (x − mean)², from one pass that
// accumulates d = x − x[0] and d² in float64: mean = x[0] + Σd/n and
// Σ (x − mean)² = Σd² − (Σd)²/n. Shifting by a sample keeps the
// subtraction harmless (|mean − x[0]| is of the order of the spread, so
// float64 loses nothing of float32 data).
func meanVar(x []float32) (mu, ss float64) {
	n := len(x)
	if n == 0 {
		return 0, 0
	}
	x0 := float64(x[0])
	var s1, s2 float64
	v := 0
	if v = n &^ 7; v > 0 && haveSIMD() {
		s1, s2 = sumSqF64Vec(&x[0], v, x0)
	} else {
		v = 0
	}
	for _, e := range x[v:] {
		d := float64(e) - x0
		s1 += d
		s2 += d * d
	}
	mu = x0 + s1/float64(n)
	ss = max(0, s2-s1*s1/float64(n))
	return mu, ss
}

// bt4 applies the Winograd input transform Bᵀ along one axis to n-vectors:
// y0 = x0 − x2, y1 = x1 + x2, y2 = x2 − x1, y3 = x1 − x3.
func bt4(x0, x1, x2, x3, y0, y1, y2, y3 []float32) {
	n := len(x0)
	x1, x2, x3 = x1[:n], x2[:n], x3[:n]
	y0, y1, y2, y3 = y0[:n], y1[:n], y2[:n], y3[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		bt4Vec(&x0[0], &x1[0], &x2[0], &x3[0], &y0[0], &y1[0], &y2[0], &y3[0], v)
		j = v
	}
	for ; j < n; j++ {
		a, b, c, d := x0[j], x1[j], x2[j], x3[j]
		y0[j], y1[j], y2[j], y3[j] = a-c, b+c, c-b, b-d
	}
}

// at4 applies the Winograd output transform Aᵀ along one axis to
// n-vectors: u = x0 + x1 + x2, w = x1 − x2 − x3.
func at4(x0, x1, x2, x3, u, w []float32) {
	n := len(x0)
	x1, x2, x3, u, w = x1[:n], x2[:n], x3[:n], u[:n], w[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		at4Vec(&x0[0], &x1[0], &x2[0], &x3[0], &u[0], &w[0], v)
		j = v
	}
	for ; j < n; j++ {
		u[j] = x0[j] + x1[j] + x2[j]
		w[j] = x1[j] - x2[j] - x3[j]
	}
}

// deint splits r into its even (ev[j] = r[2j]) and odd (od[j] = r[2j+1])
// elements, len(ev) of each.
func deint(r, ev, od []float32) {
	n := len(ev)
	r, od = r[:2*n], od[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		deintAVX(&r[0], &ev[0], &od[0], v)
		j = v
	}
	for ; j < n; j++ {
		ev[j], od[j] = r[2*j], r[2*j+1]
	}
}

// inter interleaves: y[2j] = bias + a[j], y[2j+1] = bias + b[j].
func inter(a, b, y []float32, bias float32) {
	n := len(a)
	b, y = b[:n], y[:2*n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		interAVX(&a[0], &b[0], &y[0], v, bias)
		j = v
	}
	for ; j < n; j++ {
		y[2*j], y[2*j+1] = bias+a[j], bias+b[j]
	}
}

// addScale sets y[j] = (y[j] + s[j])·k: the residual sum of ResBlock, in
// the same float32 operations (add, then multiply) on every path.
func addScale(y, s []float32, k float32) {
	n := len(y)
	s = s[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		addScaleVec(&y[0], &s[0], v, k)
		j = v
	}
	for ; j < n; j++ {
		y[j] = (y[j] + s[j]) * k
	}
}

// scaleTo sets y[j] = x[j]·k (one float32 product, so every path gives
// the same bits; scaleVec is scaleAVX or its AVX-512 twin).
func scaleTo(y, x []float32, k float32) {
	n := len(y)
	x = x[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		scaleVec(&y[0], &x[0], v, k)
		j = v
	}
	for ; j < n; j++ {
		y[j] = x[j] * k
	}
}

// fill sets every element of y to v.
func fill(y []float32, v float32) {
	n := len(y)
	j := 0
	if w := n &^ 7; w > 0 && haveSIMD() {
		fillVec(&y[0], w, v)
		j = w
	}
	for ; j < n; j++ {
		y[j] = v
	}
}

// softmaxRows replaces each of the rows [r0, r1) of the p-column matrix att
// by softmax(scale·row) and writes its transpose to attT: attT[j·nr + r−r0]
// = att[r·p + j], nr = r1 − r0. Each row is scaled while its maximum m is
// found, then exponentiated as e^(scale·x − scale·m) and divided by its
// sum; a NaN anywhere in a row makes the whole row NaN.
func softmaxRows(att, attT []float32, p, r0, r1 int, scale float32) {
	nr := r1 - r0
	var inv [8]float32
	simd := haveSIMD() && p%8 == 0 && nr%8 == 0
	for r := r0; r < r1; r++ {
		row := att[r*p : (r+1)*p]
		var m float32
		if simd {
			m = maxScaleVec(&row[0], p, scale)
		} else {
			m = row[0]
			for j, s := range row {
				m = max(m, s)
				row[j] = s * scale
			}
		}
		iv := 1 / expSub(row, m*scale)
		if simd {
			inv[(r-r0)%8] = iv
			if (r-r0)%8 == 7 {
				r8 := r - 7
				normT8AVX(&att[r8*p], p, &inv, &attT[r8-r0], nr, p)
			}
			continue
		}
		for j := range row {
			row[j] *= iv
			attT[j*nr+r-r0] = row[j]
		}
	}
}

// fillCols sets columns [j0, j1) of row r of the len(b)×p matrix y to b[r].
func fillCols(y, b []float32, p, j0, j1 int) {
	if len(b) == 0 || j1 <= j0 {
		return
	}
	_ = y[(len(b)-1)*p+j1-1]
	if n := (j1 - j0) &^ 7; n > 0 && haveSIMD() {
		fillColsVec(&y[j0], p, &b[0], len(b), n)
		j0 += n
	}
	for r, v := range b {
		for j := j0; j < j1; j++ {
			y[r*p+j] = v
		}
	}
}
