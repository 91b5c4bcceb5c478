// Package nn holds the float32 neural-network layers of the lenscore score
// network, each with an explicit forward and backward pass in the style of
// llm.c, plus the GEMM back-ends they run on.
//
// # Layout
//
// Images are NCHW: a batch of n images of C channels and H×W pixels is one
// []float32 of length n·C·H·W, index ((i·C + c)·H + y)·W + x. Vectors (time
// embeddings, dense layers) are n×D row-major. Weights follow PyTorch:
// convolutions [Cout, Cin, K, K], dense layers [Out, In].
//
// # Forward/backward contract
//
// A layer is built for fixed per-image shapes and any batch size. Forward(x,
// n) returns the layer's own output buffer, valid until its next Forward; the
// layer keeps a reference to x (or what it needs of it) for Backward, so x
// must not change in between. Backward(dout) takes dL/dout for the last
// Forward, ADDS dL/dθ into each Param.Grad (callers zero gradients) and
// returns dL/dx in a layer-owned buffer. Buffers are allocated on the first
// call for a batch size and reused, so steady-state calls do not allocate;
// backward-only buffers are allocated on the first Backward.
//
// Convolutions are im2col + GEMM on bands of output rows of about 1024
// pixels (at least two bands per image, so one image keeps two workers busy;
// 1×1 stride-1 convolutions skip im2col, and the 3×3 stride-2 im2col
// deinterleaves each input row once). The band size depends only on the layer's
// shape. The backward of a "same" 3×3 stride-1 convolution computes dx as
// the convolution of dy with the flipped, transposed kernel, so bands write
// disjoint rows of dx; strided convolutions use col2im per image. The bias
// (and ResBlock's time embedding, via Conv2D.Extra) initialises the GEMM's
// output; ResBlock's skip is added and the sum scaled by 1/√2 band by band
// by its second convolution (Conv2D.Residual). "Same" 3×3 stride-1 convolutions on even sizes with at least 16
// input channels run their forward (and, through the flipped kernel, their
// dx) as Winograd F(2×2, 3×3): 16 GEMMs of transformed weights and input
// tiles, 2.25× fewer multiplies than im2col (winograd.go); their weight
// gradient is the adjoint, Gᵀ[Σ_t (A dY_t Aᵀ) ⊙ (Bᵀ d_t B)]G, also 16 GEMMs,
// and their bias gradient the sum over tiles of (A dY_t Aᵀ)₁₁ (indices from
// 0), each tile's sum of dY. Attention materialises the P×P attention
// matrix per image; its forward runs in two phases over blocks of 32
// pixels (the q/k/v columns of a block, then a block of query rows of A
// with its columns of o and y).
//
// On images of at least 32×32 pixels with sizes multiple of 4, the
// Winograd forward (and dx) is F(4×4, 3×3) instead (winograd4.go): 36 GEMMs
// per band for 4×4 output tiles, 2.25 multiplies per output instead of 4,
// in bands of whole 4-row tiles; its float32 error is about ten times that
// of F(2×2) (relative 1e-6…2.5e-6 of max|y|, against 1e-7). The weight
// gradient of these layers is F(4×4) as well (winograd4_grad.go): 36 GEMMs
// D_k · V_kᵀ per band, D = A dY Aᵀ per tile (ady4TileAVX: de-interleave and
// A along both axes, one call per channel and band; ady4TileAVX512 or
// ady4Tile2AVX512 on the avx512 path), V the forward's input transform,
// then Gᵀ (dL/dU) G in float64; the bias gradient is the tiles' D_7.
// Smaller images keep F(2×2), whose larger tile count per band pays there.
//
// # Parallelism
//
// An Engine owns the Gemm and a fixed pool of Workers (default GOMAXPROCS)
// goroutines. Work is cut into tasks that depend only on the batch and the
// layer's shape — (image, band) for convolutions, (image, group) for
// GroupNorm, (image, channel) for elementwise passes, (image, pixel block)
// for the attention forward and images for its backward, chunks of 32K
// floats for Concat's copies — so that a single image keeps every worker
// busy. Forward passes hand tasks
// out dynamically (Engine.RunDynamic: a worker slowed by other load takes
// fewer), which is safe because each task writes its own part of the output;
// backward passes use a static contiguous split (Engine.Run) because each
// worker has its own parameter-gradient accumulators, added into Param.Grad
// in worker order — except with parameter gradients off
// (Engine.SetParamGrads(false), an input-gradient VJP), where the tasks only
// write disjoint parts of dx and are handed out dynamically too. The
// residual and skip sums of backward passes (Engine.AddTo) and Nearest2 run
// as parallel tasks of whole chunks or planes. Each worker also has scratch buffers shared by all layers,
// which run one after another. Outputs therefore do not depend on the worker
// count or on how the batch is split (the dense layers of the time embedding
// multiply row by row for that reason), and gradients are bitwise
// reproducible for a given worker count and batch size.
//
// Workers, and the caller waiting for them, poll for about 50 µs before
// parking: at batch 1 a forward pass has a few hundred parallel sections of
// tens of microseconds, and waking a parked goroutine through the scheduler
// queues it on the waker's own processor, which measured as two 50 µs tasks
// running one after the other instead of side by side. At batch 16 the
// polls cost about 1 % of the process CPU time, and shorter spins measured
// more CPU time, not less (BenchmarkSpinWaitCPU; bench/README.md).
//
// Engine.SetInference makes Forward skip storing what only Backward needs
// (GroupNorm's x̂ and SiLU gates); outputs are unchanged bit for bit. In
// inference mode, and in training mode after Engine.SetWeightsFixed(true)
// (repeated VJPs of a trained network), convolutions keep their Winograd
// weight transforms — and Backward its flipped kernel's — from one call to
// the next instead of recomputing them.
//
// # Vector kernels
//
// On amd64 with AVX2 and FMA, the GroupNorm+SiLU passes (forward and
// backward), GroupNorm's float64 statistics (one pass of shifted sums, four
// accumulator chains per sum), the attention softmax (row maximum and scale,
// exponentials, and the normalise-and-transpose of A in 8×8 register
// blocks), bias fills, the Winograd transforms and the weight
// gradient's A·dY·Aᵀ transform of dY use
// the assembly of simd_amd64.s and simd4_amd64.s (the exp-based loops
// interleave three vectors: one vector's exp, reciprocal and products form a
// dependency chain of ~80 cycles that out-of-order execution overlaps only
// about twice), and the engine routes the
// untransposed products C = A·B (+ C) with M a multiple of 4, N of 8 and
// K ≤ 1152 — the Winograd, 1×1, im2col and attention-projection GEMMs — to
// the register-blocked 4×16 FMA kernel of gemmsmall_amd64.s (each element
// an in-order sum of FMAs; 16-column panels of B are copied to a contiguous
// buffer first when B's stride is a multiple of 4 KiB or B exceeds 256 KiB,
// which changes no bit), which runs those shapes at ~37–43 GFLOP/s per core
// where OpenBLAS 0.3.21 ran 8–21 (BenchmarkSmallGemm). The products
// C (+)= A·Bᵀ with K ≤ 64, M a multiple of 4 and N of 8 — the Winograd
// weight gradients D_k·V_kᵀ, K the tiles of a band — go to the same
// kernel after Bᵀ is written to a buffer by 8×8 register transposes
// (transpose8AVX, or transpose8AVX512 on avx512; gemm_nt.go): OpenBLAS
// packs both operands on every call, and at such short K took 1.3–2.2
// times the thread CPU time of the transposed route (BenchmarkGemmNT;
// 64×64×64 once equal); other products
// go to the Gemm back-end. Elsewhere (or with the purego build tag) the
// same formulas run in Go. Both use the float32 exponential of expf
// (x = k ln 2 + r, degree-7 Taylor polynomial for e^r) and agree to float32
// rounding; which path runs depends only on the CPU.
//
// The Winograd transforms run one kernel per row of tiles and channel:
// bt6TileAVX reads the six input rows of an F(4×4) tile row and writes its
// 36 transformed streams straight into the GEMM operand V (horizontal pass,
// then vertical, through a 1 KiB buffer), at6TileAVX reads the 36 GEMM
// outputs and writes four finished output rows (both Aᵀ passes, the
// interleave into pixels, the bias and ResBlock's residual (y + s)·k), and
// bt4TileAVX (bt4Tile4AVX for 8-pixel-wide images) does the F(2×2) input
// transform likewise; each is bitwise equal to the separate passes it
// replaces. The k operand streams of a band lie winoStride = c·T + 16
// floats apart, so that they do not share L1 sets. An 8×8 F(2×2) forward
// runs one band per image when the batch has an image per worker
// (oneBandMaxPixels; the output does not depend on the banding).
//
// # Kernel paths
//
// KernelPath names the path in use: "avx512", "avx2" or "purego"
// (kernels.go). The best one the CPU has is chosen at start (avx512 needs
// AVX512F, BW, DQ and VL as well as AVX2+FMA); LENSCORE_KERNELS=avx2 or
// purego forces a lower one, SetKernelPath switches at run time (tests run
// every path the CPU has). On the avx512 path the small-product GEMM (4×32
// blocks in 8 zmm accumulators, 32-column packed panels), the Winograd
// F(4×4) transforms Bᵀ and Aᵀ and F(2×2) passes bt4 and at4, GroupNorm+SiLU (forward, backward, the
// backward's last step, the float64 statistics), the residual add-and-scale,
// the bias fills, the softmax row maximum and exponential, the fused F(4×4)
// tile-row kernels above and the weight gradient's dY transform in blocks
// of 16 tiles (bt6TileAVX512, at6TileAVX512, ady4TileAVX512 when a row has
// a multiple of 16 tiles, the 64×64 layers; bt6Tile2AVX512, at6Tile2AVX512,
// ady4Tile2AVX512 on two rows of 8 tiles, the 32×32 layers), a6, AddTo's
// axpy, ResBlock's scale and the NT route's 8×8 transposes run AVX-512
// versions (gemmsmall_avx512_amd64.s, winograd_avx512_amd64.s,
// simd_avx512_amd64.s, simd4_avx512_amd64.s; dispatch in
// kernels_dispatch.go, which lists the kernels that have none) and every
// other kernel its AVX2 one (bt6AVX512 and at6AVX512, the single F(4×4)
// passes, serve widths that are not a multiple of 32).
// The AVX-512 versions perform each element's operations in the AVX2
// order, so products, transforms and activations are bitwise equal on both
// paths (sums over a row — softmax, GroupNorm's statistics and backward
// sums — are added in another order, equal to rounding). They
// are tested under an emulated AVX-512 CPU by scripts/test-avx512-emulated
// (correctness only: no AVX-512 machine was available to time them).
//
// # Initialisation
//
// As NCSN++ (Song et al. 2021, "Score-based generative modeling through
// SDEs"), default_init: variance scaling with fan_avg and a uniform
// distribution, w ~ U(−a, a), a = √(3·scale/fan_avg), fan_avg =
// (fan_in + fan_out)/2 with fan = channels·K·K; biases zero; GroupNorm γ = 1,
// β = 0. The last convolution of each residual branch and the output
// projection of attention use scale 0 (replaced by 1e-10), so every block
// starts close to its skip path. Gaussian Fourier frequencies are N(0,
// scale²) and never trained.
//
// # Layers
//
// Conv2D (any K, stride, padding), Nearest2 and Upsample (nearest ×2 then 3×3
// convolution), NewDownsample (3×3 stride-2 convolution) and AvgPool2,
// GroupNorm (optionally fused with the SiLU that follows it; groups =
// Groups(C) = min(C/4, 32)), SiLU, Linear, AttnBlock (GroupNorm, q/k/v 1×1
// projections, softmax(qᵀk/√C), output projection, residual, ÷√2), Fourier
// (Gaussian Fourier features), Concat (channel concatenation) and ResBlock
// (NCSN++ BigGAN residual block with time embedding). For score_models'
// NCSNpp: FIR (StyleGAN2's upfirdn2d resampling by 2 with a separable
// kernel, as two sparse 1-D passes per plane), ResampleBlock (the BigGAN
// block resampling its main path and 1×1 skip with FIR) and
// NewSelfAttention (attention without GroupNorm or 1/√2); ResBlock's
// OutScale selects 1/√2 or 1 for the residual sum.
package nn
