// Package linalg provides the few dense float64 factorisations lenscore
// needs at sizes where pure Go is too slow (N = 4096 source pixels gives
// 4096×4096 matrices of 134 MB): the symmetric eigendecomposition
//
//	A = V Λ Vᵀ,  Λ = diag(w_0 ≤ … ≤ w_{n−1}),  VᵀV = I,
//
// the Householder tridiagonalisation T = QᵀAQ (Q e₀ = e₀, Q not formed),
// the Cholesky factorisation A = L Lᵀ (L lower triangular), the inverse of a
// lower triangular matrix, the product
// C = α op(A) op(B) + β C, the symmetric rank-k update C = α op(A)op(A)ᵀ + βC
// and the triangular solve op(T) X = α B.
//
// # Back-ends
//
// New returns OpenBLAS (LAPACK dsyevd_, dsytrd_, dpotrf_, dtrtri_ and BLAS
// dgemm_, dsyrk_, dtrsm_ of a system libopenblas, loaded at run time with purego, so the
// module builds without cgo) when it loads, and gonum (lapack/gonum Dsyev and
// Dpotrf, blas/gonum) otherwise; the environment variable LENSCORE_LINALG=go
// forces gonum (Dsyev, Dsytrd, Dpotrf, Dtrtri). The Fortran routines are called by pointer with every
// argument passed by reference from one reused argument block, plus the
// hidden CHARACTER lengths gfortran appends.
//
// # Conventions
//
// Every matrix is row-major with an explicit leading dimension (row stride).
// A row-major r×c matrix read column-major is its c×r transpose, so the
// calls map onto column-major LAPACK by swapping triangles, transposes and
// operands (documented beside each call). EigenSym returns the eigenvectors
// in the ROWS of its matrix (it is overwritten by Vᵀ), the natural layout of
// LAPACK's column-major output, and reads only the upper triangle; Cholesky
// reads the lower triangle and returns L with zeros above the diagonal.
//
// # Threads
//
// OpenBLAS calls use Threads() threads (default GOMAXPROCS). The OpenBLAS
// thread count is process-wide state shared with package nn, which keeps it
// at 1 for the network's many small GEMMs: each linalg call therefore takes
// a lock, sets the count, calls and restores the previous count. A network
// GEMM running concurrently on another goroutine may use the larger count
// while a factorisation runs.
//
// # Cost
//
// dsyevd (Householder tridiagonalisation, divide and conquer, blocked back
// transformation) needs 1 + 6n + 2n² floats of workspace besides A — 268 MB
// at n = 4096 — and takes seconds at n = 4096 on two cores, against minutes
// for gonum's QR-based Dsyev.
package linalg
