// Package score is the noise-prediction network of the lenscore diffusion
// prior: an NCSN++-style U-Net (Song et al. 2021, "Score-based generative
// modeling through stochastic differential equations") built from package
// nn's layers, for images of C channels (1 for lensing sources).
//
// # Convention
//
// Forward returns ε_θ(x, σ), trained by denoising score matching so that
// ε_θ(x₀ + σz, σ) ≈ −z (loss ‖ε_θ + z‖², see sde.DSMLossTerm). The score of
// the σ-smoothed prior is
//
//	∇ₓ log p_σ(x) ≈ ε_θ(x, σ) / σ,
//
// NCSN++'s "scale_by_sigma" output h/σ with h = ε_θ. The network is
// conditioned on log σ through Gaussian Fourier features.
//
// # Architecture (default 64×64, NF = 32, ChMult 1,2,2,2, 2 blocks, attention at 16 and 8)
//
//	log σ → Fourier(32 freqs, scale 16) → Dense 64→128 → SiLU → Dense 128→128 → SiLU = t
//	x (1×64×64) → Conv3×3 → 32×64²                                   ─┐ skip h₀
//	64²: Res(32→32) ×2                                                ─┤ h₁ h₂
//	     Down (3×3 stride-2 conv) → 32×32²                            ─┤ h₃
//	32²: Res(32→64), Res(64→64)                                       ─┤ h₄ h₅
//	     Down → 64×16²                                                ─┤ h₆
//	16²: [Res(64→64) + Attn] ×2                                       ─┤ h₇ h₈
//	     Down → 64×8²                                                 ─┤ h₉
//	8²:  [Res(64→64) + Attn] ×2                                       ─┤ h₁₀ h₁₁
//	mid: Res, Attn, Res (64×8²)                                        │
//	8²:  Res(concat(h, h₁₁)→64), Res(·,h₁₀), Res(·,h₉), Attn, Up       │
//	16²: Res(·,h₈), Res(·,h₇), Res(·,h₆), Attn, Up                     │
//	32²: Res(·,h₅), Res(·,h₄), Res(·,h₃), Up                           │
//	64²: Res(·,h₂)→32, Res(·,h₁), Res(·,h₀)                           ─┘
//	GroupNorm → SiLU → Conv3×3 (32→1) = ε_θ(x, σ)
//
// Res is nn.ResBlock (BigGAN-style: GroupNorm→SiLU→Conv3×3, + Dense(t) per
// channel, GroupNorm→SiLU→Conv3×3, 1×1 skip when channels change, sum ÷√2);
// Attn is nn.AttnBlock (single-head attention over pixels, residual ÷√2); Up
// is nearest ×2 then Conv3×3; Down is a 3×3 stride-2 convolution. GroupNorm
// uses min(C/4, 32) groups. Every down-path output is a skip tensor,
// concatenated along channels in the up path (NCSN++ with progressive and
// progressive_input "none"; no FIR filtering, resampling as separate
// layers rather than inside residual blocks, no dropout).
//
// The default configuration has 2,265,505 parameters (including the 32
// fixed Fourier frequencies) and costs 2.94 GFLOP per 64×64 image forward
// (Net.Flops). The NCSN++ 256×256 settings (NF 128, ChMult 1,1,2,2,2,2,2,
// attention at 16) give 57.7 M parameters and 472 GFLOP per image.
//
// # Sizes
//
// ConfigForSize(n) gives the default architecture for n×n images: the
// configuration above up to 64×64, and above that the layout of
// score_sde_pytorch's NCSN++ at 256×256 (ChMult 1,1,2,2,2,2,2, two residual
// blocks, attention at 16), one level per halving down to a 4×4 grid — six
// levels at 128×128 (score_sde_pytorch has no 128×128 configuration) and
// seven at 256×256 — at the same NF = 32: 3,002,977 parameters and
// 7.5 GFLOP per 128×128 image, 3,624,417 and 29.6 GFLOP per 256×256 image.
// Validate explains an impossible combination with the values that would
// work (the U-Net's resolutions, image sizes divisible by 2^(levels−1),
// widths that GroupNorm divides).
//
// Initialisation follows NCSN++ (package nn): variance scaling, and scale
// ≈0 for the last convolution of every residual branch, the attention output
// projection and the output convolution, so a new network outputs ε ≈ 0.
//
// # score_models' NCSNpp
//
// Config.Arch = ArchNCSNpp builds instead the NCSNpp of the PyTorch package
// score_models (FIR up/down-sampling inside BigGAN residual blocks, input
// and output pyramids summed in, self-attention without normalisation in
// the middle only, Fourier features of t = ln(σ/σ_min)/ln(σ_max/σ_min);
// see ncsnpp.go), with its parameters named by their score_models
// state-dict keys. It uses the same layers, GEMM kernels and batching as
// the default network, runs at any size its levels divide (Resized), and
// Forward returns model(t, x), so that the score is again Forward/σ.
// Package scoremodels imports and exports such networks.
//
// # Files
//
// Save and Load use package weights (safetensors) with the Config stored as
// JSON under the metadata key "config".
//
// # Performance
//
// All layers reuse buffers allocated on the first call for a batch size, so
// Forward and Backward do not allocate in steady state. Work is split over
// Config.Workers goroutines (default GOMAXPROCS) in tasks smaller than an
// image (bands of rows, normalisation groups; see package nn), so a batch of
// one uses every worker; outputs do not depend on the worker count or on how
// a batch is split into calls. SetInference(true) (for sampling) keeps no
// activations for Backward and sends the batch through the network Workers
// images at a time, which keeps activations in cache; its outputs are
// identical to training mode.
package score
