package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
)

// tinyParams returns two small parameters with known values.
func tinyParams() []*nn.Param {
	b := nn.NewParam("b", 2)
	b.Data[0], b.Data[1] = 1, -2
	a := nn.NewParam("a", 1, 1)
	a.Data[0] = 0.5
	return []*nn.Param{b, a}
}

// fileBytes assembles a safetensors file from a header string and raw
// float32 values, padding nothing (as a foreign writer might).
func fileBytes(header string, vals ...float32) []byte {
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(header)))
	buf.WriteString(header)
	for _, v := range vals {
		binary.Write(&buf, binary.LittleEndian, math.Float32bits(v))
	}
	return buf.Bytes()
}

// TestSaveBytesMatchSpec compares Save's output with a file assembled by hand
// from the safetensors specification.
func TestSaveBytesMatchSpec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := Save(path, tinyParams(), map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`
	for (8+len(header))%8 != 0 {
		header += " "
	}
	want := make([]byte, 0, 8+len(header)+12)
	want = binary.LittleEndian.AppendUint64(want, uint64(len(header)))
	want = append(want, header...)
	want = append(want, 0x00, 0x00, 0x00, 0x3f) // 0.5
	want = append(want, 0x00, 0x00, 0x80, 0x3f) // 1
	want = append(want, 0x00, 0x00, 0x00, 0xc0) // -2
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes differ from the spec:\n got %q\nwant %q", got, want)
	}
	// Parameter order must not matter.
	p := tinyParams()
	p[0], p[1] = p[1], p[0]
	again, err := Encode(p, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, want) {
		t.Fatal("output depends on parameter order")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// TestLoadForeignFile reads a file laid out differently from ours (keys
// unsorted, data not in name order, no padding, no metadata).
func TestLoadForeignFile(t *testing.T) {
	h := `{"b":{"shape":[2],"dtype":"F32","data_offsets":[0,8]}, "a":{"data_offsets":[8,12],"dtype":"F32","shape":[1,1]}}`
	path := filepath.Join(t.TempDir(), "f.safetensors")
	os.WriteFile(path, fileBytes(h, 3, 4, 5), 0o644)
	p := tinyParams()
	meta, err := Load(path, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != 0 || meta == nil {
		t.Fatalf("meta = %v, want empty non-nil map", meta)
	}
	if p[0].Data[0] != 3 || p[0].Data[1] != 4 || p[1].Data[0] != 5 {
		t.Fatalf("values %v %v", p[0].Data, p[1].Data)
	}
}

func TestRoundTrip(t *testing.T) {
	var ps []*nn.Param
	for i, shape := range [][]int{{3, 4}, {5}, {2, 1, 3}, {}, {0, 7}} {
		p := nn.NewParam(fmt.Sprintf("layer%d.w", i), shape...)
		for j := range p.Data {
			p.Data[j] = float32(math.Sin(float64(31*i+j))) * 1e3
		}
		ps = append(ps, p)
	}
	ps[0].Data[0] = math.SmallestNonzeroFloat32
	ps[0].Data[1] = math.MaxFloat32
	ps[0].Data[2] = float32(math.Copysign(0, -1))
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	meta := map[string]string{"step": "12", "note": "ünïcode \"quoted\""}
	if err := Save(path, ps, meta); err != nil {
		t.Fatal(err)
	}
	qs := make([]*nn.Param, len(ps))
	for i, p := range ps {
		qs[len(ps)-1-i] = nn.NewParam(p.Name, p.Shape...)
	}
	got, err := Load(path, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		q := qs[len(ps)-1-i]
		for j := range p.Data {
			if math.Float32bits(p.Data[j]) != math.Float32bits(q.Data[j]) {
				t.Fatalf("%s[%d]: %v != %v", p.Name, j, q.Data[j], p.Data[j])
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(meta) {
		t.Fatalf("meta %v, want %v", got, meta)
	}
	rm, err := ReadMeta(path)
	if err != nil || fmt.Sprint(rm) != fmt.Sprint(meta) {
		t.Fatalf("ReadMeta = %v, %v", rm, err)
	}
}

func TestSaveRejects(t *testing.T) {
	dir := t.TempDir()
	nan := nn.NewParam("x", 2)
	nan.Data[1] = float32(math.NaN())
	bad := nn.NewParam("x", 2)
	bad.Data = bad.Data[:1]
	for name, ps := range map[string][]*nn.Param{
		"non-finite": {nan},
		"needs 2":    {bad},
		"duplicate":  {nn.NewParam("x", 1), nn.NewParam("x", 1)},
		"reserved":   {nn.NewParam(MetadataKey, 1)},
		"empty name": {nn.NewParam("", 1)},
	} {
		path := filepath.Join(dir, "s.safetensors")
		err := Save(path, ps, nil)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v", name, err)
		}
		if _, serr := os.Stat(path); serr == nil {
			t.Errorf("%s: file written despite error", name)
		}
	}
}

// TestLoadRejects corrupts a valid file in many ways; each must fail with an
// error naming the file and the problem, leaving the parameters untouched.
func TestLoadRejects(t *testing.T) {
	good := func(h string) []byte { return fileBytes(h, 1, 2, 3) }
	a := `"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}`
	b := `"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}`
	nanFile := fileBytes("{"+a+","+b+"}", 1, float32(math.NaN()), 3)
	infFile := fileBytes("{"+a+","+b+"}", float32(math.Inf(-1)), 2, 3)
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	past := binary.LittleEndian.AppendUint64(nil, 100)
	past = append(past, "{}"...)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"absurd header length", huge, "limit"},
		{"header past end", past, "exceeds"},
		{"zero header", make([]byte, 8), "zero"},
		{"malformed json", good(`{"a":{`), "malformed JSON"},
		{"not object", good(`[1,2]`), "not an object"},
		{"trailing", good("{" + a + "," + b + "} x"), "trailing"},
		{"missing tensor", fileBytes("{"+a+"}", 1), `missing tensor "b"`},
		{"extra tensor", fileBytes("{"+a+","+b+`,"c":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}`, 1, 2, 3, 4), `unexpected tensor(s) not among the parameters, first "c"`},
		{"dtype", good(`{"a":{"dtype":"F64","shape":[1,1],"data_offsets":[0,4]},` + b + "}"), `dtype "F64"`},
		{"shape", good(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` + b + "}"), "parameter needs [1 1]"},
		{"offsets vs shape", good(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,8]},` + b + "}"), "span 8 bytes"},
		{"overlap", fileBytes(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[4,8]},`+b+"}", 1, 2, 3), "overlap"},
		{"gap", fileBytes(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, 1, 2, 3, 4), "gap"},
		{"out of range", fileBytes(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 1, 2), "beyond"},
		{"trailing data", fileBytes("{"+a+","+b+"}", 1, 2, 3, 4), "cover 12"},
		{"reversed offsets", good(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]},` + b + "}"), "end before"},
		{"negative offset", good(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[-4,0]},` + b + "}"), "not a non-negative"},
		{"fractional shape", good(`{"a":{"dtype":"F32","shape":[1.5,1],"data_offsets":[0,4]},` + b + "}"), "not a valid dimension"},
		{"unknown field", good(`{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4],"x":1},` + b + "}"), `unknown field "x"`},
		{"duplicate key", good("{" + a + "," + a + "," + b + "}"), "duplicate tensor"},
		{"bad metadata", good(`{"__metadata__":{"k":1},` + a + "," + b + "}"), "not a string"},
		{"NaN", nanFile, "non-finite"},
		{"Inf", infFile, "non-finite"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
		os.WriteFile(path, c.data, 0o644)
		p := tinyParams()
		_, err := Load(path, p)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q lacks %q or the path", c.name, err, c.want)
		}
		if p[0].Data[0] != 1 || p[0].Data[1] != -2 || p[1].Data[0] != 0.5 {
			t.Errorf("%s: parameters modified on error", c.name)
		}
	}
	if _, err := Load(filepath.Join(dir, "nope"), tinyParams()); err == nil {
		t.Error("missing file accepted")
	}
}

// TestPythonReader parses a saved file with an independent reader written
// with Python's json and struct modules (skipped when python3 is absent).
func TestPythonReader(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; skipping the independent-reader check")
	}
	path := filepath.Join(t.TempDir(), "py.safetensors")
	ps := tinyParams()
	c := nn.NewParam("conv.weight", 2, 3)
	for i := range c.Data {
		c.Data[i] = float32(i) - 2.25
	}
	ps = append(ps, c)
	if err := Save(path, ps, map[string]string{"arch": "test"}); err != nil {
		t.Fatal(err)
	}
	script := `
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8+n])
data = b[8+n:]
out = []
for k in sorted(h):
    if k == '__metadata__':
        out.append('meta ' + json.dumps(h[k], sort_keys=True)); continue
    e = h[k]; s, t = e['data_offsets']
    vals = struct.unpack('<%df' % ((t - s) // 4), data[s:t])
    out.append('%s %s %s %s' % (k, e['dtype'], e['shape'], ' '.join(repr(v) for v in vals)))
print('\n'.join(out))
`
	got, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, got)
	}
	want := `meta {"arch": "test"}
a F32 [1, 1] 0.5
b F32 [2] 1.0 -2.0
conv.weight F32 [2, 3] -2.25 -1.25 -0.25 0.75 1.75 2.75
`
	if string(got) != want {
		t.Fatalf("python reader saw\n%s\nwant\n%s", got, want)
	}
}

// FuzzLoad checks that Decode never panics and that whatever it accepts is
// finite and survives a re-encode.
func FuzzLoad(f *testing.F) {
	valid, _ := Encode(tinyParams(), map[string]string{"k": "v"})
	f.Add(valid)
	f.Add(fileBytes(`{"b":{"shape":[2],"dtype":"F32","data_offsets":[0,8]},"a":{"data_offsets":[8,12],"dtype":"F32","shape":[1,1]}}`, 3, 4, 5))
	f.Add(valid[:20])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := tinyParams()
		meta, err := Decode(data, p)
		if err != nil {
			return
		}
		for _, q := range p {
			for _, v := range q.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("accepted non-finite %v", v)
				}
			}
		}
		re, err := Encode(p, meta)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		q := tinyParams()
		if _, err := Decode(re, q); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// TestWriteFileAtomicMode checks that the atomic writer leaves an ordinary
// 0644 file (not CreateTemp's 0600) with the given bytes and no temporary.
func TestWriteFileAtomicMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := WriteFileAtomic(path, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want -rw-r--r--", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "abc" {
		t.Errorf("contents %q, want abc", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
}

// TestReadHeader checks that ReadHeader returns the saved metadata and
// exactly the parameters' names and shapes.
func TestReadHeader(t *testing.T) {
	ps := tinyParams()
	path := filepath.Join(t.TempDir(), "h.safetensors")
	if err := Save(path, ps, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	meta, shapes, err := ReadHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta["k"] != "v" || len(shapes) != len(ps) {
		t.Fatalf("meta %v, %d shapes for %d params", meta, len(shapes), len(ps))
	}
	for _, p := range ps {
		if s, ok := shapes[p.Name]; !ok || !slices.Equal(s, p.Shape) && !(len(s) == 0 && len(p.Shape) == 0) {
			t.Errorf("%s: shape %v, want %v", p.Name, s, p.Shape)
		}
	}
}
