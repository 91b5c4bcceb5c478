package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/scoremodels"
	"github.com/lenscore/lenscore/weights"
)

// importCard is model.json of an imported model: the fields of the
// model card other commands read, and where the weights came from.
type importCard struct {
	Format     string       `json:"format"`
	Network    score.Config `json:"network"`
	Parameters int          `json:"parameters"`
	SigmaMin   float64      `json:"sigma_min"`
	SigmaMax   float64      `json:"sigma_max"`
	Source     struct {
		Library    string `json:"library"`
		Directory  string `json:"checkpoint_directory"`
		Checkpoint string `json:"checkpoint"`
		Index      int    `json:"checkpoint_number"`
		SHA256     string `json:"sha256"`
	} `json:"source"`
	ImportedAt string `json:"imported_at"`
}

func runImportModel(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "import-model", "--checkpoint-dir DIR [--checkpoint N] [--image-size 64] --out models/NAME")
	dir := fs.String("checkpoint-dir", "", "score_models checkpoint directory (model_hparams.json, checkpoint_*.pt)")
	idx := fs.Int("checkpoint", -1, "checkpoint number to import (-1: the highest)")
	size := fs.Int("image-size", 64, "image side recorded in the model (commands run NCSNpp networks at the size of their input)")
	out := fs.String("out", "", "output directory: model.safetensors and model.json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "checkpoint-dir", "out"); err != nil {
		return err
	}
	m, err := scoremodels.Read(*dir, *idx, *size)
	if err != nil {
		return err
	}
	g, err := nn.DefaultGemm()
	if err != nil {
		return err
	}
	net, err := m.Net(g)
	if err != nil {
		return err
	}
	defer net.Close()
	ck, err := os.ReadFile(m.Checkpoint)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(ck)
	var card importCard
	card.Format, card.Network, card.Parameters = "lenscore-model-card", net.Config(), net.NumParams()
	card.SigmaMin, card.SigmaMax = m.VE.SigmaMin, m.VE.SigmaMax
	card.Source.Library, card.Source.Directory, card.Source.Checkpoint = "score_models", *dir, filepath.Base(m.Checkpoint)
	card.Source.Index, card.Source.SHA256 = m.Index, hex.EncodeToString(sum[:])
	card.ImportedAt = time.Now().UTC().Format(time.RFC3339)
	meta, err := scoremodels.Metadata(net, m.VE, strconv.Itoa(m.Index), map[string]string{
		"source": "score_models", "source_checkpoint": filepath.Base(m.Checkpoint), "source_sha256": card.Source.SHA256})
	if err != nil {
		return err
	}
	if err := writeModelDir(*out, net, meta, card); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "imported %s (checkpoint %d: NCSNpp nf %d, ch_mult %v, %d parameters, σ %.3g…%.4g) to %s\n",
		m.Checkpoint, m.Index, card.Network.NF, card.Network.ChMult, card.Parameters, card.SigmaMin, card.SigmaMax, *out)
	return nil
}

// writeModelDir writes dir/model.safetensors and dir/model.json, refusing
// to replace an existing model.
func writeModelDir(dir string, net *score.Net, meta map[string]string, card any) error {
	if err := checkOutDir(dir); err != nil {
		return err
	}
	mp, jp := filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "model.json")
	for _, p := range []string{mp, jp} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s already exists; choose another --out or remove it", p)
		}
	}
	cj, err := json.MarshalIndent(card, "", "  ")
	if err != nil {
		return err
	}
	if err := weights.Save(mp, net.Params(), meta); err != nil {
		return err
	}
	if err := weights.WriteFileAtomic(jp, append(cj, '\n')); err != nil {
		os.Remove(mp)
		return err
	}
	return nil
}

func runScore(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "score", "--model M --x X.fits (--t T | --sigma S) --out S.fits")
	model := fs.String("model", "", "model (model.safetensors, or its directory)")
	xPath := fs.String("x", "", "FITS image or cube: one image per plane (per Channels planes for multi-channel models)")
	tFlag := fs.String("t", "", "diffusion time t ∈ [0, 1]: σ = σ_min (σ_max/σ_min)^t")
	sFlag := fs.String("sigma", "", "noise level σ > 0")
	batch := fs.Int("batch", 16, "images per network call")
	out := fs.String("out", "", "output FITS with ∇log p_t(x), shaped as --x")
	force := addForceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "model", "x", "out"); err != nil {
		return err
	}
	if (*tFlag == "") == (*sFlag == "") {
		fmt.Fprintln(env.stderr, "give exactly one of --t and --sigma")
		fs.Usage()
		return errUsage
	}
	if err := checkNewOutFile(*out, *force); err != nil {
		return err
	}
	hdus, err := fits.ReadFile(*xPath)
	if err != nil {
		return err
	}
	var h *fits.HDU
	for _, c := range hdus {
		if !c.Skipped && len(c.Shape) > 0 {
			h = c
			break
		}
	}
	if h == nil || (len(h.Shape) != 2 && len(h.Shape) != 3) || h.Shape[0] != h.Shape[1] {
		return fmt.Errorf("--x %s: want a square 2-D image or a 3-D cube of square planes", *xPath)
	}
	for i, v := range h.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("--x %s: value %d is %g; images must be finite", *xPath, i, v)
		}
	}
	side, planes := h.Shape[0], 1
	if len(h.Shape) == 3 {
		planes = h.Shape[2]
	}
	m, err := openModel(*model)
	if err != nil {
		return err
	}
	defer m.Close()
	net, ve := m.Net, m.VE()
	cfg := net.Config()
	if planes%cfg.Channels != 0 {
		return fmt.Errorf("--x %s has %d planes; the model has %d channels per image", *xPath, planes, cfg.Channels)
	}
	if side != cfg.ImageSize {
		r, err := score.Resized(net, side)
		if err != nil {
			return fmt.Errorf("--x %s is %d×%d: %w", *xPath, side, side, err)
		}
		net.Close()
		net = r
	}
	t, sigma := -1.0, 0.0
	if *tFlag != "" {
		if t, err = strconv.ParseFloat(*tFlag, 64); err != nil || !(t >= 0 && t <= 1) {
			return fmt.Errorf("--t must be a number in [0, 1], got %q", *tFlag)
		}
		sigma = ve.Sigma(t)
		if cfg.Arch != score.ArchNCSNpp {
			t = -1 // lenscore's network takes σ
		}
	} else if sigma, err = strconv.ParseFloat(*sFlag, 64); err != nil || !(sigma > 0) || math.IsInf(sigma, 1) {
		return fmt.Errorf("--sigma must be a positive number, got %q", *sFlag)
	}
	if *batch < 1 {
		return fmt.Errorf("--batch must be ≥ 1, got %d", *batch)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := score.Scores(net, h.Data, planes/cfg.Channels, sigma, t, *batch)
	if err != nil {
		return err
	}
	o := &fits.HDU{Shape: append([]int(nil), h.Shape...), Data: s, Bitpix: -64}
	o.Header.Set("SIGMA", sigma, "noise level of the score")
	if t >= 0 {
		o.Header.Set("TIME", t, "score_models time t")
	} else if *tFlag != "" {
		o.Header.Set("TIME", ve.TimeOf(sigma), "time t of sigma")
	}
	o.Header.Set("MODEL", cardText(*model), "score network")
	o.Header.AddComment("grad_x log p_sigma(x) = eps_theta(x, sigma)/sigma per plane of the input")
	if err := fits.WriteFile(*out, []*fits.HDU{o}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "score of %d image(s) of %d×%d at σ = %.6g written to %s\n", planes/cfg.Channels, side, side, sigma, *out)
	return nil
}

// exportScoreModels is export-model --format score_models: a score_models
// checkpoint directory from a lenscore model of architecture NCSNpp.
func exportScoreModels(env *cliEnv, model, out string) error {
	if model == "" {
		return errors.New("--format score_models needs --model M (a model.safetensors or its directory)")
	}
	m, err := openModel(model)
	if err != nil {
		return err
	}
	defer m.Close()
	net, ve := m.Net, m.VE()
	if err := scoremodels.Export(net, ve, out); err != nil {
		return fmt.Errorf("export to %s: %w", out, err)
	}
	fmt.Fprintf(env.stdout, "exported %s (NCSNpp, %d parameters) as a score_models checkpoint directory %s (%s, %s)\n",
		model, net.NumParams(), out, scoremodels.HparamsFile, scoremodels.ExportCheckpoint)
	return nil
}
