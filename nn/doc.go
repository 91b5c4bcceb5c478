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
// Convolutions are im2col + GEMM per image (1×1 stride-1 convolutions skip
// im2col); large images are processed in bands of output rows to bound the
// scratch memory. Attention materialises the P×P attention matrix per image.
//
// # Parallelism
//
// An Engine owns the Gemm and a fixed pool of Workers (default GOMAXPROCS)
// goroutines. Per-image work is split over workers in static contiguous
// chunks; each worker has its own scratch (shared by all layers, which run
// one after another) and its own parameter-gradient accumulators, which are
// added into Param.Grad in worker order after the layer's backward. Outputs
// therefore do not depend on the worker count at all, and gradients are
// bitwise reproducible for a given worker count and batch size. Dense layers
// on n×D vectors are one GEMM for the whole batch.
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
// (NCSN++ BigGAN residual block with time embedding).
package nn
