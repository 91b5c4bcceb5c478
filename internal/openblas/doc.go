// Package openblas finds and maps the system OpenBLAS library into the
// process, once, for the packages that call it through purego (nn for the
// float32 GEMM of the network, linalg for float64 LAPACK). Each of them binds
// the symbols it needs on the shared handle.
//
// Before the library is mapped, OPENBLAS_CORETYPE is set to match the
// processor unless the user set it: SkylakeX when the CPU has AVX-512 F, BW,
// DQ and VL, Haswell with AVX2 and FMA. Debian's OpenBLAS 0.3.21 does not
// recognise recent AMD cores and would otherwise fall back to older kernels.
// OpenBLAS reads the variable only when first mapped, which is why one
// loader serves every package.
//
// LENSCORE_OPENBLAS, when set, is the only path tried.
package openblas
