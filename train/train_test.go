package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
)

// blobData returns m synthetic n×n images: Gaussian blobs of random
// position, width and amplitude, normalised to peak 1.
func blobData(m, n int) *Dataset {
	r := rand.New(rand.NewPCG(7, 8))
	var ims []Image
	for k := range m {
		cx, cy := float64(n)/2+r.NormFloat64(), float64(n)/2+r.NormFloat64()
		w := 1 + r.Float64()*float64(n)/6
		pix := make([]float32, n*n)
		for y := range n {
			for x := range n {
				dx, dy := float64(x)-cx, float64(y)-cy
				pix[y*n+x] = float32(math.Exp(-(dx*dx + dy*dy) / (2 * w * w)))
			}
		}
		ims = append(ims, Image{Name: fmt.Sprintf("blob%03d", k), Pix: pix})
	}
	return NewDataset(ims, n, 0.2)
}

func testConfig(dir string) Config {
	c := DefaultConfig()
	c.Steps, c.BatchSize, c.LR, c.WarmupSteps = 30, 4, 1e-2, 5
	c.EMADecay, c.Seed, c.Dir = 0.9, 42, dir
	c.CheckpointEvery, c.CheckpointMinutes, c.ValEvery, c.LogEvery = 10, 0, 7, 3
	return c
}

type snapshot map[string][]uint32

func snap(tr *Trainer) snapshot {
	s := snapshot{}
	for _, p := range tr.stateTensors() {
		b := make([]uint32, len(p.Data))
		for i, v := range p.Data {
			b[i] = math.Float32bits(v)
		}
		s[p.Name] = b
	}
	return s
}

func logSteps(t *testing.T, dir string) []int {
	f, err := os.Open(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		steps = append(steps, e.Step)
	}
	return steps
}

// TestResumeBitIdentical: a run interrupted by cancellation (and one stopped
// by its step count) and then resumed, each with a freshly built model,
// ends with exactly the weights, EMA weights and Adam moments of an
// uninterrupted run; the log continues without duplicate steps; stray
// files of a crashed checkpoint do not disturb the resume.
func TestResumeBitIdentical(t *testing.T) {
	data := blobData(12, 6)
	n := data.Size * data.Size
	dirA := t.TempDir()
	a, err := New(testConfig(dirA), newLinModel(n, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	want := snap(a)

	// B: cancelled after step 13.
	dirB := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := New(testConfig(dirB), newLinModel(n, 4), data)
	b.onStep = func(s int) {
		if s == 13 {
			cancel()
		}
	}
	var prog bytes.Buffer
	if err := b.Run(ctx, &prog); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	if !strings.Contains(prog.String(), "train 13/30") {
		t.Errorf("progress output %q lacks the step count", prog.String())
	}
	man, err := ReadManifest(dirB)
	if err != nil || man.Step != 13 {
		t.Fatalf("manifest after cancel: %+v, %v", man, err)
	}
	// Simulate a crash during a later checkpoint: a torn tensor file that
	// the manifest does not name, a temp file, and log lines past step 13.
	os.WriteFile(filepath.Join(dirB, "ckpt-000000016.safetensors"), []byte("torn"), 0o644)
	os.WriteFile(filepath.Join(dirB, ".ckpt.json.tmp-123"), []byte("{"), 0o644)
	lf, _ := os.OpenFile(filepath.Join(dirB, LogFile), os.O_APPEND|os.O_WRONLY, 0)
	lf.WriteString(`{"step":15,"loss":1}` + "\n")
	lf.Close()
	mb := newLinModel(n, 4)
	mb.a.Data[0] = 123 // must be overwritten by the checkpoint
	if err := Resume(context.Background(), dirB, 0, mb, data, nil); err != nil {
		t.Fatal(err)
	}
	rb, err := Open(dirB, newLinModel(n, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap(rb); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("cancel+resume differs from the uninterrupted run")
	}
	if _, err := os.Stat(filepath.Join(dirB, "ckpt-000000016.safetensors")); err == nil {
		t.Error("stale tensor file not cleaned up")
	}
	if fmt.Sprint(logSteps(t, dirB)) != fmt.Sprint(logSteps(t, dirA)) {
		t.Errorf("log steps after resume %v, uninterrupted %v", logSteps(t, dirB), logSteps(t, dirA))
	}
	emaA, _ := os.ReadFile(filepath.Join(dirA, EMAFile))
	emaB, _ := os.ReadFile(filepath.Join(dirB, EMAFile))
	if !bytes.Equal(emaA, emaB) || len(emaA) == 0 {
		t.Error("ema.safetensors differs")
	}

	// C: stopped by a smaller step count, then extended.
	dirC := t.TempDir()
	cfg := testConfig(dirC)
	cfg.Steps = 17
	if err := Run(context.Background(), cfg, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), cfg, newLinModel(n, 4), data, nil); err == nil {
		t.Fatal("Run over an existing checkpoint accepted")
	}
	if err := Resume(context.Background(), dirC, 30, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	rc, _ := Open(dirC, newLinModel(n, 4), data)
	if fmt.Sprint(snap(rc)) != fmt.Sprint(want) {
		t.Fatal("stop at 17 + resume differs from the uninterrupted run")
	}
	// A different dataset is refused.
	if _, err := Open(dirC, newLinModel(n, 4), blobData(13, 6)); err == nil || !strings.Contains(err.Error(), "dataset differs") {
		t.Fatalf("resume on other data: %v", err)
	}
}

// TestValidationLossFixed: the validation loss is a deterministic function
// of the weights, and for zero weights equals the mean of z² of the fixed
// draws (about 1).
func TestValidationLossFixed(t *testing.T) {
	data := blobData(40, 6)
	tr, err := New(testConfig(""), newLinModel(36, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	l1, r1, _ := tr.ValLoss()
	var zz float64
	for _, z := range tr.valZ {
		zz += float64(z) * float64(z)
	}
	zz /= float64(len(tr.valZ))
	if math.Abs(l1-zz) > 1e-9 || math.Abs(r1-zz) > 1e-9 {
		t.Fatalf("zero-model validation loss %v/%v, want mean z² %v", l1, r1, zz)
	}
	tr2, _ := New(testConfig(""), newLinModel(36, 4), data)
	for range 5 {
		tr2.TrainStep()
	}
	for range 5 {
		tr.TrainStep()
	}
	la, ra, _ := tr.ValLoss()
	lb, rb, _ := tr2.ValLoss()
	if la != lb || ra != rb || la == l1 {
		t.Fatalf("validation losses %v %v vs %v %v (start %v)", la, ra, lb, rb, l1)
	}
}

// TestLossFalls trains the linear model on blobs. Its best loss is that of
// a per-pixel Gaussian denoiser, s²/(σ²+s²) averaged over log-uniform σ,
// which is small only for the ~25% of t with σ above the pixel spread, so
// the held-out loss must fall by at least 10% from its initial value ≈ 1.
func TestLossFalls(t *testing.T) {
	data := blobData(40, 6)
	cfg := testConfig("")
	cfg.Steps, cfg.BatchSize, cfg.WarmupSteps = 600, 8, 20
	tr, err := New(cfg, newLinModel(36, 8), data)
	if err != nil {
		t.Fatal(err)
	}
	l0, _, _ := tr.ValLoss()
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	l1, r1, _ := tr.ValLoss()
	t.Logf("validation loss %.4f → %.4f (EMA), %.4f (raw); sigma_max %.3f", l0, l1, r1, tr.Config().SigmaMax)
	if !(l1 < 0.9*l0) {
		t.Fatalf("validation loss fell only from %v to %v", l0, l1)
	}
}

func TestNewRejects(t *testing.T) {
	data := blobData(5, 4)
	cfg := testConfig("")
	cfg.BatchSize = 0
	if _, err := New(cfg, newLinModel(16, 4), data); err == nil || !strings.Contains(err.Error(), "BatchSize") {
		t.Fatalf("batch 0: %v", err)
	}
	// A model whose output has the wrong size is reported, not a panic.
	tr, err := New(testConfig(""), newLinModel(9, 4), blobData(5, 3))
	if err != nil {
		t.Fatal(err)
	}
	tr.data = data
	tr.pixels = 16
	tr.x, tr.z, tr.dout, tr.aug = make([]float32, 64), make([]float32, 64), make([]float32, 64), make([]float32, 16)
	if _, _, err := tr.TrainStep(); err == nil {
		t.Fatal("wrong output size accepted")
	}
	m := newLinModel(16, 4)
	p := m.Params()
	p[1].Name = p[0].Name
	if _, err := New(testConfig(""), m, data); err == nil {
		t.Fatal("duplicate parameter names accepted")
	}
	_ = nn.Param{}
}

// TestRealGalaxies loads the Galaxy Zoo DECaLS cut-outs at 64² and trains
// the linear model for a few steps.
func TestRealGalaxies(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "galaxies", "gz_decals", "r_crop256")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real galaxy images not found at %s (shared data absent): %v", dir, err)
	}
	ds, err := LoadDir(dir, LoadOptions{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	total := len(ds.Train) + len(ds.Val)
	t.Logf("gz_decals: %d train, %d val, %d skipped", len(ds.Train), len(ds.Val), len(ds.Skipped))
	if total < 430 || len(ds.Val) < 25 || len(ds.Val) > 65 {
		t.Fatalf("%d images, %d validation", total, len(ds.Val))
	}
	centred := 0
	for _, im := range ds.Train {
		var c, b float64
		for y := 28; y < 36; y++ {
			for x := 28; x < 36; x++ {
				c += float64(im.Pix[y*64+x]) / 64
			}
		}
		for x := range 64 {
			b += float64(im.Pix[x]+im.Pix[63*64+x]) / 128
		}
		if c > b+0.1 {
			centred++
		}
	}
	if centred < len(ds.Train)*9/10 {
		t.Fatalf("only %d of %d images are brighter in the centre than at the border", centred, len(ds.Train))
	}
	cfg := testConfig("")
	cfg.Steps, cfg.ValEvery = 5, 5
	tr, err := New(cfg, newLinModel(64*64, 4), ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("sigma_max %.2f, val loss %.4f", tr.Config().SigmaMax, tr.valLoss)
	if s := tr.Config().SigmaMax; !(s > 5 && s < 64) {
		t.Fatalf("sigma_max %v outside the plausible range for peak-normalised 64² images", s)
	}
}

// TestTrainStepNoAlloc: an update allocates nothing once the trainer exists.
func TestTrainStepNoAlloc(t *testing.T) {
	tr, err := New(testConfig(""), newLinModel(36, 4), blobData(12, 6))
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(20, func() { tr.TrainStep() }); a != 0 {
		t.Fatalf("TrainStep allocates %v times per call", a)
	}
}

// TestRealFITS loads the COSMOS HST stamps (one galaxy per HDU) at 64².
func TestRealFITS(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "galaxies", "cosmos_hst", "cosmos26_btk")
	path := filepath.Join(dir, "real_galaxy_images_extension.fits")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("COSMOS stamps not found at %s (shared data absent): %v", path, err)
	}
	raws, err := readFITSImages(path)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []Image
	for _, r := range raws {
		if pix, err := Prepare(r.pix, r.w, r.h, 64, 0); err == nil {
			imgs = append(imgs, Image{Name: r.name, Pix: pix})
		}
	}
	t.Logf("%s: %d image HDUs, %d usable", filepath.Base(path), len(raws), len(imgs))
	if len(raws) < 50 || len(imgs) < len(raws)*9/10 {
		t.Fatalf("%d stamps read, %d usable", len(raws), len(imgs))
	}
}

// BenchmarkTrainStep64 times the trainer's own work around a trivial model
// (batch 16 of 64² images).
func BenchmarkTrainStep64(b *testing.B) {
	cfg := testConfig("")
	cfg.BatchSize = 16
	tr, err := New(cfg, newLinModel(64*64, 16), blobData(40, 64))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tr.TrainStep()
	}
}

// TestRealStellarium loads the Stellarium galaxy photographs (assorted
// sizes from 128² to 1024²) at 64².
func TestRealStellarium(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "galaxies", "stellarium", "gray")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("Stellarium images not found at %s (shared data absent): %v", dir, err)
	}
	ds, err := LoadDir(dir, LoadOptions{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stellarium: %d train, %d val, skipped %v", len(ds.Train), len(ds.Val), ds.Skipped)
	if n := len(ds.Train) + len(ds.Val); n < 180 {
		t.Fatalf("only %d images loaded", n)
	}
}

// workerModel is linModel reporting a gradient worker count.
type workerModel struct {
	*linModel
	w int
}

func (m workerModel) Workers() int { return m.w }

// TestResumeWorkerCount checks that the model's worker count is stored in
// the manifest and that Open refuses a model with a different count (whose
// gradients would round differently) but accepts the same count.
func TestResumeWorkerCount(t *testing.T) {
	data := blobData(12, 6)
	n := data.Size * data.Size
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Steps = 5
	if err := Run(context.Background(), cfg, workerModel{newLinModel(n, 4), 2}, data, nil); err != nil {
		t.Fatal(err)
	}
	man, err := ReadManifest(dir)
	if err != nil || man.Workers != 2 {
		t.Fatalf("manifest workers %v (%v), want 2", man, err)
	}
	if _, err := Open(dir, workerModel{newLinModel(n, 4), 3}, data); err == nil || !strings.Contains(err.Error(), "2 gradient workers") {
		t.Errorf("resume with 3 workers: %v, want a refusal naming 2", err)
	}
	if _, err := Open(dir, workerModel{newLinModel(n, 4), 2}, data); err != nil {
		t.Errorf("resume with the same count: %v", err)
	}
}
