package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const fixture = "../score/testdata/ncsnpp/nf8_12_nofir/checkpoint_1.2345e+00_001.pt"

// A checkpoint written by torch.save (PyTorch 1.13) of score_models' NCSNpp:
// its tensors, in state-dict order, with the shapes the architecture gives.
func TestReadTorchSaveFixture(t *testing.T) {
	ts, err := ReadStateDict(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) < 20 {
		t.Fatalf("%d tensors", len(ts))
	}
	want := []struct {
		name  string
		shape []int
	}{
		{"all_modules.0.W", []int{4}},          // Fourier frequencies nf/2
		{"all_modules.1.weight", []int{32, 8}}, // Linear nf → 4nf
		{"all_modules.1.bias", []int{32}},
		{"all_modules.2.weight", []int{32, 32}},
		{"all_modules.2.bias", []int{32}},
		{"all_modules.3.conv.weight", []int{8, 1, 3, 3}},
	}
	for i, w := range want {
		if ts[i].Name != w.name || !equalInts(ts[i].Shape, w.shape) || len(ts[i].Data) != prod(w.shape) {
			t.Errorf("tensor %d: %s %v, want %s %v", i, ts[i].Name, ts[i].Shape, w.name, w.shape)
		}
	}
	// Fourier frequencies ~ N(0, 16²): finite, not all zero.
	var s float64
	for _, v := range ts[0].Data {
		s += float64(v * v)
	}
	if !(s > 0) || math.IsInf(s, 0) {
		t.Errorf("Fourier frequencies %v", ts[0].Data)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func sample() []Tensor {
	return []Tensor{
		{Name: "a.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 4, 5e-8, -6}},
		{Name: "a.bias", Shape: []int{3}, Data: []float32{0.25, float32(math.Pi), -1}},
		{Name: "scalar", Shape: []int{}, Data: []float32{7}},
		{Name: "big", Shape: []int{70000}, Data: make([]float32, 70000)},
	}
}

// EncodeStateDict → DecodeStateDict gives back the same tensors bit for
// bit, and the stored entries are 64-byte aligned.
func TestRoundTrip(t *testing.T) {
	in := sample()
	for i := range in[3].Data {
		in[3].Data[i] = float32(i) * 0.5
	}
	b, err := EncodeStateDict("ckpt", in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeStateDict(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d tensors, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Name != in[i].Name || !equalInts(out[i].Shape, in[i].Shape) {
			t.Fatalf("tensor %d: %s %v", i, out[i].Name, out[i].Shape)
		}
		for j := range in[i].Data {
			if math.Float32bits(out[i].Data[j]) != math.Float32bits(in[i].Data[j]) {
				t.Fatalf("%s[%d] = %v, want %v", in[i].Name, j, out[i].Data[j], in[i].Data[j])
			}
		}
	}
	zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	for _, f := range zr.File {
		off, err := f.DataOffset()
		if err != nil || off%64 != 0 {
			t.Errorf("%s data at offset %d (%v), want a multiple of 64", f.Name, off, err)
		}
	}
}

// Strided views and the other storage dtypes are converted as PyTorch
// defines them.
func TestViewsAndDtypes(t *testing.T) {
	// storage of 6 float64 values 0..5; the tensor is its transpose view
	// size (3, 2), stride (1, 3), offset 0 → [[0 3] [1 4] [2 5]].
	st := make([]byte, 48)
	for i := range 6 {
		binary.LittleEndian.PutUint64(st[8*i:], math.Float64bits(float64(i)))
	}
	p := pk().proto().dict().mark().str("x").rebuild("DoubleStorage", "0", 6, 0, []int64{3, 2}, []int64{1, 3}).
		op("u.")
	ts, err := DecodeStateDict(zipOf(t, p.b.Bytes(), map[string][]byte{"0": st}, false))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 3, 1, 4, 2, 5}
	for i, v := range want {
		if ts[0].Data[i] != v {
			t.Fatalf("view = %v, want %v", ts[0].Data, want)
		}
	}
	// float16 1.5 = 0x3e00, -2 = 0xc000, 2^-24 (subnormal) = 0x0001;
	// bfloat16 1.5 = 0x3fc0.
	h := []byte{0x00, 0x3e, 0x00, 0xc0, 0x01, 0x00}
	bf := []byte{0xc0, 0x3f}
	p = pk().proto().dict().mark().str("h").rebuild("HalfStorage", "0", 3, 0, []int64{3}, []int64{1}).
		str("b").rebuild("BFloat16Storage", "1", 1, 0, []int64{1}, []int64{1}).op("u.")
	ts, err = DecodeStateDict(zipOf(t, p.b.Bytes(), map[string][]byte{"0": h, "1": bf}, false))
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Data[0] != 1.5 || ts[0].Data[1] != -2 || ts[0].Data[2] != float32(math.Ldexp(1, -24)) || ts[1].Data[0] != 1.5 {
		t.Errorf("half %v bfloat16 %v", ts[0].Data, ts[1].Data)
	}
}

// Hostile or broken checkpoints are refused with an error saying why,
// without allocating what they declare.
func TestRefusesHostile(t *testing.T) {
	good := func() *pkb {
		return pk().proto().dict().mark().str("w").rebuild("FloatStorage", "0", 2, 0, []int64{2}, []int64{1})
	}
	st := map[string][]byte{"0": make([]byte, 8)}
	cases := []struct {
		name    string
		pickle  []byte
		storage map[string][]byte
		deflate bool
		want    string
	}{
		{"GLOBAL os.system", pk().proto().op("cos\nsystem\n").str("echo hi").op("\x85R.").b.Bytes(), nil, false, "global os.system is not allowed"},
		{"STACK_GLOBAL builtins.eval", pk().proto().str("builtins").str("eval").op("\x93").b.Bytes(), nil, false, "global builtins.eval is not allowed"},
		{"REDUCE of a storage class", pk().proto().op("ctorch\nFloatStorage\n)R.").b.Bytes(), nil, false, "REDUCE of torch.FloatStorage is not allowed"},
		{"REDUCE of a string", pk().proto().str("os.system").op(")R.").b.Bytes(), nil, false, "REDUCE of a str is not allowed"},
		{"INST opcode", pk().proto().op("(ios\nsystem\n.").b.Bytes(), nil, false, "opcode not allowed"},
		{"huge declared storage", pk().proto().dict().mark().str("w").rebuild("FloatStorage", "0", 1<<40, 0, []int64{1 << 40}, []int64{1}).op("u.").b.Bytes(), st, false, "declares 1099511627776 float32 elements"},
		{"view larger than storage", pk().proto().dict().mark().str("w").rebuild("FloatStorage", "0", 2, 0, []int64{3}, []int64{1}).op("u.").b.Bytes(), st, false, "exceeds the storage"},
		{"expanded view", pk().proto().dict().mark().str("w").rebuild("FloatStorage", "0", 2, 0, []int64{1 << 20, 2}, []int64{0, 1}).op("u.").b.Bytes(), st, false, "exceeds the storage"},
		{"offset past storage", pk().proto().dict().mark().str("w").rebuild("FloatStorage", "0", 2, 2, []int64{1}, []int64{1}).op("u.").b.Bytes(), st, false, "runs past"},
		{"missing storage entry", good().op("u.").b.Bytes(), nil, false, "has no entry"},
		{"compressed storage", good().op("u.").b.Bytes(), st, true, "compressed"},
		{"huge string", append(pk().proto().b.Bytes(), 'X', 0xff, 0xff, 0xff, 0x7f), nil, false, "runs past the end"},
		{"no STOP", pk().proto().dict().b.Bytes(), nil, false, "no STOP"},
		{"not a dict", pk().proto().str("x").op(".").b.Bytes(), nil, false, "not a state dict"},
		{"memo miss", pk().proto().op("h\x07.").b.Bytes(), nil, false, "memo index 7"},
		{"pop past mark", pk().proto().dict().mark().op("s.").b.Bytes(), nil, false, "SETITEM needs"},
		{"BUILD on a tensor", pk().proto().rebuild("FloatStorage", "0", 2, 0, []int64{2}, []int64{1}).op("}b.").b.Bytes(), st, false, "BUILD of a tensor"},
	}
	for _, c := range cases {
		_, err := DecodeStateDict(zipOf(t, c.pickle, c.storage, c.deflate))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
	// A truncated zip, a legacy checkpoint and a non-zip file.
	b, _ := EncodeStateDict("a", sample())
	for _, n := range []int{len(b) - 1, len(b) / 2, 100, 3} {
		if _, err := DecodeStateDict(bytes.NewReader(b[:n]), int64(n)); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := DecodeStateDict(bytes.NewReader([]byte("\x80\x02}q\x00.")), 7); err == nil || !strings.Contains(err.Error(), "legacy") {
		t.Errorf("legacy: %v", err)
	}
	if _, err := DecodeStateDict(bytes.NewReader([]byte("hello world")), 11); err == nil || !strings.Contains(err.Error(), "not a zip") {
		t.Errorf("text: %v", err)
	}
	// The huge declared storage did not allocate: a decode of it leaves
	// the heap far below the 4 TiB it declared (checked loosely).
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 1<<30 {
		t.Errorf("heap %d bytes after refusing hostile inputs", ms.HeapAlloc)
	}
}

// ReadStateDict names the file in its errors.
func TestErrorNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.pt")
	os.WriteFile(p, []byte("nope"), 0o644)
	_, err := ReadStateDict(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name %s", err, p)
	}
}

// torch.load reads what WriteStateDict writes (skipped without Debian's
// python3-torch).
func TestTorchLoadsOurCheckpoint(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import torch").Run() != nil {
		t.Skip("no python3-torch")
	}
	in := sample()
	for i := range in[3].Data {
		in[3].Data[i] = float32(i%97) - 48
	}
	p := filepath.Join(t.TempDir(), "ours.pt")
	if err := WriteStateDict(p, in); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `
import sys, torch
d = torch.load(sys.argv[1])
print(list(d.keys()))
print(" ".join("%s:%s:%.9g" % (k, tuple(v.shape), float(v.double().sum())) for k, v in d.items()))
print(float(d["a.weight"][1, 2]), float(d["a.bias"][1]))
`, p).CombinedOutput()
	if err != nil {
		t.Fatalf("torch.load: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if lines[0] != "['a.weight', 'a.bias', 'scalar', 'big']" {
		t.Errorf("keys %s", lines[0])
	}
	var sum float64
	for _, v := range in[3].Data {
		sum += float64(v)
	}
	if !strings.Contains(lines[1], "big:(70000,):") || !strings.Contains(lines[1], "scalar:():7") || !strings.Contains(lines[1], "a.weight:(2, 3):") {
		t.Errorf("shapes/sums %s", lines[1])
	}
	if lines[2] != "-6.0 3.1415927410125732" {
		t.Errorf("values %s", lines[2])
	}
}

// pkb builds pickles for the tests.
type pkb struct{ b bytes.Buffer }

func pk() *pkb                   { return &pkb{} }
func (p *pkb) op(s string) *pkb  { p.b.WriteString(s); return p }
func (p *pkb) proto() *pkb       { return p.op("\x80\x02") }
func (p *pkb) dict() *pkb        { return p.op("ccollections\nOrderedDict\n)R") }
func (p *pkb) mark() *pkb        { return p.op("(") }
func (p *pkb) str(s string) *pkb { pickleString(&p.b, s); return p }
func (p *pkb) int(v int64) *pkb  { pickleInt(&p.b, v); return p }
func (p *pkb) ints(v []int64) *pkb {
	p.mark()
	for _, x := range v {
		p.int(x)
	}
	return p.op("t")
}

// rebuild appends _rebuild_tensor_v2(storage key of numel, offset, size, stride, False, OrderedDict()).
func (p *pkb) rebuild(stype, key string, numel, off int64, size, stride []int64) *pkb {
	p.op("ctorch._utils\n_rebuild_tensor_v2\n((").str("storage").op("ctorch\n" + stype + "\n").str(key).str("cpu").int(numel).op("tQ")
	p.int(off).ints(size).ints(stride)
	return p.op("\x89ccollections\nOrderedDict\n)RtR")
}

// zipOf wraps a pickle and storages in a checkpoint zip.
func zipOf(t *testing.T, pickle []byte, storages map[string][]byte, deflate bool) (*bytes.Reader, int64) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte, m uint16) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("a/data.pkl", pickle, zip.Store)
	for k, v := range storages {
		m := zip.Store
		if deflate {
			m = zip.Deflate
		}
		add("a/data/"+k, v, m)
	}
	add("a/version", []byte("3\n"), zip.Store)
	zw.Close()
	return bytes.NewReader(buf.Bytes()), int64(buf.Len())
}
