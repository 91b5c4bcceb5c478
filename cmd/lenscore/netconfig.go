package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/lenscore/lenscore/score"
)

// archFlags are train's network-architecture flags. Unset flags take the
// value of --config when given, else score.ConfigForSize(--size).
type archFlags struct {
	config, chMult, attn *string
	nf, blocks           *int
}

// archFlagNames lists the flags that set the architecture (refused with --init).
var archFlagNames = []string{"config", "ch-mult", "attn-resolutions", "num-res-blocks", "nf"}

func addArchFlags(fs *flag.FlagSet) *archFlags {
	return &archFlags{
		config: fs.String("config", "", "network configuration JSON (a score.Config: image_size, nf, ch_mult, num_res_blocks, attn_resolutions, fourier_scale; or a model.json, whose \"network\" it uses); --size, --nf, --ch-mult, --attn-resolutions and --num-res-blocks override its fields"),
		chMult: fs.String("ch-mult", "", "channel multiplier per U-Net level, e.g. 1,2,2,2 (default: by --size: 1,2,2,2 up to 64; 1,1,2,2,2,2 at 128; 1,1,2,2,2,2,2 at 256, score_sde_pytorch's 256² NCSN++ layout)"),
		attn:   fs.String("attn-resolutions", "", "feature-map sides with self-attention, e.g. 16,8, or none (default: by --size: 16,8 up to 64, else 16)"),
		blocks: fs.Int("num-res-blocks", 0, "residual blocks per level on the down path (default 2)"),
		nf:     fs.Int("nf", 0, "base channel count of the network (default 32; score_sde_pytorch's 256² model has 128)"),
	}
}

// resolve returns the architecture for size×size images (size ≤ 0: the
// size of --config, else 64).
func (a *archFlags) resolve(fs *flag.FlagSet, size int, sizeSet bool) (score.Config, error) {
	var cfg score.Config
	if *a.config != "" {
		b, err := os.ReadFile(*a.config)
		if err != nil {
			return cfg, fmt.Errorf("--config: %w", err)
		}
		// A model.json (export-model) holds the configuration under
		// "network"; a bare score.Config is accepted as well, with unknown
		// keys refused so a misspelt field is not silently ignored.
		var card struct {
			Network *score.Config `json:"network"`
		}
		if err := json.Unmarshal(b, &card); err == nil && card.Network != nil {
			cfg = *card.Network
		} else {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cfg); err != nil {
				return cfg, fmt.Errorf("--config %s: not a network configuration (score.Config JSON or model.json): %w", *a.config, err)
			}
		}
		if cfg.Channels == 0 {
			cfg.Channels = 1
		}
		if cfg.FourierScale == 0 {
			cfg.FourierScale = score.DefaultConfig().FourierScale
		}
		if sizeSet {
			cfg.ImageSize = size
		}
	} else {
		cfg = score.ConfigForSize(size)
	}
	if isFlagSet(fs, "ch-mult") {
		m, err := score.ParseInts(*a.chMult)
		if err != nil {
			return cfg, fmt.Errorf("--ch-mult: %w", err)
		}
		if len(m) == 0 {
			return cfg, fmt.Errorf("--ch-mult needs at least one level, e.g. 1,2,2,2")
		}
		cfg.ChMult = m
		if !isFlagSet(fs, "attn-resolutions") && *a.config == "" {
			// Keep the size's attention resolutions that the new levels reach.
			var keep []int
			for _, r := range cfg.AttnResolutions {
				for _, have := range cfg.Resolutions() {
					if r == have {
						keep = append(keep, r)
					}
				}
			}
			cfg.AttnResolutions = keep
		}
	}
	if isFlagSet(fs, "attn-resolutions") {
		r, err := score.ParseInts(*a.attn)
		if err != nil {
			return cfg, fmt.Errorf("--attn-resolutions: %w", err)
		}
		cfg.AttnResolutions = r
	}
	if isFlagSet(fs, "num-res-blocks") {
		cfg.NumResBlocks = *a.blocks
	}
	if isFlagSet(fs, "nf") {
		cfg.NF = *a.nf
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("network architecture: %w (flags --size, --nf, --ch-mult, --attn-resolutions, --num-res-blocks, --config)", err)
	}
	return cfg, nil
}
