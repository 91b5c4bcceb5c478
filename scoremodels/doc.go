// Package scoremodels converts score-based priors between lenscore and the
// PyTorch package score_models (Adam et al.; MIT licence), whose NCSN++
// checkpoints are how such priors are usually trained on GPUs.
//
// # score_models' checkpoint directory
//
//	model_hparams.json           the ScoreModel's hyper-parameters: the NCSNpp
//	                             arguments, "model_architecture", and the SDE
//	                             ("sde": "ve", "sigma_min", "sigma_max", "T")
//	checkpoint_<loss>_<N>.pt     torch.save(model.state_dict()) of checkpoint N
//	                             (read with package torchpt; the number N is the
//	                             last integer of the file name)
//
// # Conventions
//
// score_models' VE SDE has σ(t) = σ_min (σ_max/σ_min)^(t/T), t ∈ [0, T], and
// its score is s(t, x) = model(t, x)/σ(t). lenscore's Net for the imported
// network (score.Config.Arch = score.ArchNCSNpp) takes σ, conditions the
// network on t = ln(σ/σ_min)/ln(σ_max/σ_min) and returns model(t, x), so
// lenscore's ∇log p_σ(x) = Net.Forward(x, σ)/σ is the same function; T
// must be 1 (the value score_models sets by default).
//
// Supported hyper-parameters: channels, nf, ch_mult, num_res_blocks,
// fourier_scale, fir, fir_kernel (1-D), skip_rescale, attention, dropout
// (inference only: ignored), init_scale and resample_with_conv (used by
// neither inference nor these resampling paths), and the fixed values
// model_architecture "ncsnpp", resblock_type "biggan", progressive
// "output_skip", progressive_input "input_skip", combine_method "sum",
// activation_type "swish"/"silu", dimensions 2, condition ["None"]; sde "ve"
// with sigma_min, sigma_max, T = 1 and any epsilon. Any other value or key
// is an error naming it. The hyper-parameters do not fix the image size:
// the network runs at any size its levels divide (score.Resized).
//
// # Export
//
// Export writes such a directory for a Net of architecture ArchNCSNpp
// (imported, or created in lenscore with that architecture), which
// score_models' ScoreModel(checkpoints_directory=DIR) loads. lenscore's own
// architecture (concatenated skips, stride-2 convolutions, normalised
// attention, ln σ conditioning) has no NCSNpp equivalent and is refused.
package scoremodels
