package train

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
)

// TestEMAFileIsAModel: the ema.safetensors a run writes is read back by
// score.LoadModel with the run's σ range, step, star flag and network.
func TestEMAFileIsAModel(t *testing.T) {
	data := blobData(12, 8)
	net, err := score.New(score.Config{ImageSize: 8, Channels: 1, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1,
		AttnResolutions: []int{4}, FourierScale: 16, Workers: 1}, nn.NaiveGemm{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	cj, _ := json.Marshal(net.Config())
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Steps, cfg.BatchSize = 2, 2
	cfg.ModelMeta = map[string]string{score.MetaConfig: string(cj), score.MetaStars: score.StarsRemovedValue, score.MetaData: "blobs"}
	tr, err := New(cfg, net, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	m, err := score.LoadModel(filepath.Join(dir, EMAFile), nn.NaiveGemm{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ve := tr.Config()
	if m.Step != 2 || m.SigmaMin != ve.SigmaMin || m.SigmaMax != ve.SigmaMax || !m.StarsRemoved || m.Data != "blobs" {
		t.Fatalf("model info %+v; run: step 2, σ %g…%g", m.ModelInfo, ve.SigmaMin, ve.SigmaMax)
	}
	for k, p := range m.Net.Params() {
		for i, v := range p.Data {
			if v != tr.EMAParams()[k].Data[i] {
				t.Fatalf("%s[%d] = %g, the run's EMA weight is %g", p.Name, i, v, tr.EMAParams()[k].Data[i])
			}
		}
	}
}
