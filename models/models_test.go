package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/lenscore/lenscore/score"
)

// The embedded files are the ones in the folder, and the loaded network
// is the one score.LoadModel reads from the file.
func TestPrior64EqualsFile(t *testing.T) {
	for _, f := range []struct {
		path string
		b    []byte
	}{{"prior64/model.safetensors", Prior64Bytes()}, {"prior64/model.json", Prior64Card()}} {
		want, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.b, want) {
			t.Fatalf("embedded %s (%d bytes) differs from the file (%d bytes)", f.path, len(f.b), len(want))
		}
	}
	emb, err := LoadPrior64(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	file, err := score.LoadModel("prior64/model.safetensors", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	pe, pf := emb.Net.Params(), file.Net.Params()
	if len(pe) != len(pf) {
		t.Fatalf("%d parameters embedded, %d from the file", len(pe), len(pf))
	}
	for i := range pe {
		for j := range pe[i].Data {
			if pe[i].Data[j] != pf[i].Data[j] {
				t.Fatalf("parameter %s[%d]: %g embedded, %g from the file", pe[i].Name, j, pe[i].Data[j], pf[i].Data[j])
			}
		}
	}
	if emb.Source != Prior64Name || file.Source != "prior64/model.safetensors" {
		t.Errorf("sources %q, %q", emb.Source, file.Source)
	}
}

// The typed metadata agrees with the model card, which export-model writes
// from the training manifest, not from the weights file.
func TestPrior64InfoMatchesCard(t *testing.T) {
	var card struct {
		Network    score.Config `json:"network"`
		Parameters int          `json:"parameters"`
		SigmaMin   float64      `json:"sigma_min"`
		SigmaMax   float64      `json:"sigma_max"`
		Step       int          `json:"step"`
		Stars      string       `json:"stars"`
		Data       string       `json:"data"`
		Excluded   string       `json:"excluded"`
	}
	if err := json.Unmarshal(Prior64Card(), &card); err != nil {
		t.Fatal(err)
	}
	m, err := LoadPrior64(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.SigmaMin != card.SigmaMin || m.SigmaMax != card.SigmaMax || m.Step != card.Step {
		t.Errorf("σ %g…%g step %d; card: %g…%g step %d", m.SigmaMin, m.SigmaMax, m.Step, card.SigmaMin, card.SigmaMax, card.Step)
	}
	if m.StarsRemoved != (card.Stars == score.StarsRemovedValue) || !m.StarsRemoved {
		t.Errorf("StarsRemoved %v; card stars %q", m.StarsRemoved, card.Stars)
	}
	if m.Data != card.Data || m.Excluded != card.Excluded {
		t.Errorf("data %q excluded %q; card %q %q", m.Data, m.Excluded, card.Data, card.Excluded)
	}
	if fmt.Sprint(m.Config) != fmt.Sprint(card.Network) || m.Net.NumParams() != card.Parameters {
		t.Errorf("config %+v (%d parameters); card %+v (%d)", m.Config, m.Net.NumParams(), card.Network, card.Parameters)
	}
	if ve := m.VE(); ve.SigmaMin != card.SigmaMin || math.Abs(ve.Sigma(1)-card.SigmaMax) > 1e-9*card.SigmaMax {
		t.Errorf("VE %+v, σ(1) = %g; want σ_max %g", ve, ve.Sigma(1), card.SigmaMax)
	}
}

// Example: load the shipped prior and read its metadata.
func ExampleLoadPrior64() {
	m, err := LoadPrior64(nil)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	c := m.Config
	fmt.Printf("%d×%d images, %d parameters, trained %d steps\n", c.ImageSize, c.ImageSize, m.Net.NumParams(), m.Step)
	fmt.Printf("σ from %g to %.2f, stars removed: %v\n", m.SigmaMin, m.SigmaMax, m.StarsRemoved)
	// Output:
	// 64×64 images, 2265505 parameters, trained 3521 steps
	// σ from 0.0001 to 18.72, stars removed: true
}
