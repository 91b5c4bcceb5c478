package train_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/train"
	"github.com/lenscore/lenscore/weights"
)

// blobs returns k peak-normalised elliptical Gaussian "galaxies" of side n.
func blobs(n, k int) []train.Image {
	out := make([]train.Image, k)
	for i := range out {
		pix := make([]float32, n*n)
		cx, cy := float64(n)*(0.4+0.05*float64(i)), float64(n)*(0.55-0.03*float64(i))
		sx, sy := float64(n)*(0.06+0.01*float64(i)), float64(n)*0.05
		for r := range n {
			for c := range n {
				dx, dy := (float64(c)-cx)/sx, (float64(r)-cy)/sy
				pix[r*n+c] = float32(math.Exp(-(dx*dx + dy*dy) / 2))
			}
		}
		out[i] = train.Image{Name: fmt.Sprintf("blob%d", i), Pix: pix}
	}
	return out
}

// At the paper's sizes (128² and 256² sources, small NF) a network trains a
// few steps, its files reload to the same function, and the reloaded EMA
// model samples the posterior of a 128² (resp. 64²) observation: samples of
// the source's shape, finite, and bitwise the same for a seed whatever the
// batch size.
func TestTrainSaveLoadSampleAtPaperSizes(t *testing.T) {
	g, err := nn.DefaultGemm()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{128, 256} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			cfg := score.ConfigForSize(size)
			cfg.NF, cfg.Workers = 4, 2 // the size's layout, narrow
			net, err := score.New(cfg, g, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			dir := t.TempDir()
			cj, _ := json.Marshal(net.Config())
			tc := train.DefaultConfig()
			tc.Steps, tc.BatchSize, tc.WarmupSteps, tc.LR = 3, 2, 0, 1e-3
			tc.Dir, tc.CheckpointEvery, tc.CheckpointMinutes, tc.ValEvery, tc.LogEvery = dir, 0, 0, 0, 1
			tc.ModelMeta = map[string]string{score.MetaConfig: string(cj)}
			ds := train.NewDataset(blobs(size, 3), size, -1)
			before := append([]float32(nil), net.Params()[3].Data...)
			if err := train.Run(context.Background(), tc, net, ds, io.Discard); err != nil {
				t.Fatal(err)
			}
			moved := false
			for i, v := range net.Params()[3].Data {
				moved = moved || v != before[i]
			}
			if !moved {
				t.Fatalf("%s unchanged by 3 training steps", net.Params()[3].Name)
			}
			man, err := train.ReadManifest(dir)
			if err != nil || man.Step != 3 {
				t.Fatalf("manifest step %v, %v; want 3", man, err)
			}

			// Save and reload the trained weights: the same function, bit for bit.
			raw := filepath.Join(dir, "raw.safetensors")
			if err := score.Save(raw, net); err != nil {
				t.Fatal(err)
			}
			back, err := score.Load(raw, g)
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			if got := back.Config(); got.ImageSize != size || len(got.ChMult) != len(cfg.ChMult) || got.NF != cfg.NF {
				t.Fatalf("reloaded config %+v, want %+v", got, cfg)
			}
			x, sig := make([]float32, size*size), []float32{0.7}
			copy(x, ds.Train[0].Pix)
			want := append([]float32(nil), net.Forward(x, sig, 1)...)
			got := back.Forward(x, sig, 1)
			for i := range want {
				if got[i] != want[i] || math.IsNaN(float64(got[i])) {
					t.Fatalf("reloaded network: ε[%d] = %g, trained network %g", i, got[i], want[i])
				}
			}

			// The EMA model as `lenscore sample` loads it.
			model := filepath.Join(dir, train.EMAFile)
			meta, err := weights.ReadMeta(model)
			if err != nil {
				t.Fatal(err)
			}
			smin, _ := strconv.ParseFloat(meta["sigma_min"], 64)
			smax, _ := strconv.ParseFloat(meta["sigma_max"], 64)
			ve, err := sde.NewVE(smin, smax)
			if err != nil {
				t.Fatal(err)
			}
			obs := size / 2 // the paper's geometry: 2×2 rays per observed pixel
			op, err := lens.NewOperator(lens.Composite{lens.SIE{ThetaE: 1.2, Q: 0.7, Phi: 0.3}, lens.Shear{Gamma1: 0.03}},
				lens.Config{Obs: lens.Grid{N: obs, Scale: 5.0 / float64(obs)}, Src: lens.Grid{N: size, Scale: 1.92 / float64(size)}, Supersample: 2})
			if err != nil {
				t.Fatal(err)
			}
			truth := make([]float64, size*size)
			for i, v := range ds.Train[1].Pix {
				truth[i] = float64(v)
			}
			y := make([]float64, obs*obs)
			op.Apply(y, truth)
			if err := lens.AddNoise(y, 0.05, 1); err != nil {
				t.Fatal(err)
			}
			sample := func(batch int) [][]float64 {
				m, err := score.Load(model, g)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				m.SetInference(true)
				pr, err := posterior.NewNetworkPrior(m, ve, size*size, batch)
				if err != nil {
					t.Fatal(err)
				}
				lik, err := posterior.NewConvolved(op, y, []float64{0.05}, nil, ve.Sigma)
				if err != nil {
					t.Fatal(err)
				}
				res, err := posterior.Sample(context.Background(), pr, lik, ve, posterior.Options{Steps: 3, Chains: 2, Seed: 11})
				if err != nil {
					t.Fatal(err)
				}
				return res.Samples
			}
			a, b := sample(2), sample(1)
			if len(a) != 2 || len(a[0]) != size*size || len(a[1]) != size*size {
				t.Fatalf("samples: %d of %d pixels, want 2 of %d", len(a), len(a[0]), size*size)
			}
			for k := range a {
				for i, v := range a[k] {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("sample %d pixel %d = %g", k, i, v)
					}
					if b[k][i] != v {
						t.Fatalf("sample %d pixel %d: %g with batch 2, %g with batch 1 (same seed)", k, i, v, b[k][i])
					}
				}
			}
			if a[0][size*size/2] == a[1][size*size/2] {
				t.Error("the two chains gave the same centre pixel")
			}
		})
	}
}
