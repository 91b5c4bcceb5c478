package fits

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// validFile returns a small valid two-HDU file.
func validFile(t testing.TB) []byte {
	t.Helper()
	a := NewImage(3, 2, []float64{1, 2, 3, 4, 5, 6})
	a.Header.Set("OBJECT", "seed", "a comment")
	b := NewCube(2, 2, 2, []float64{1, 2, 3, 4, 5, 6, 7, 8})
	b.Bitpix = 16
	b.Name = "CUBE"
	b.Header.Set("BSCALE", 0.5, "")
	b.Header.Set("BZERO", 10, "")
	var buf bytes.Buffer
	if err := Write(&buf, []*HDU{a, b}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMalformed feeds broken files to Read and checks each error names the
// problem; ReadFile errors must also name the path.
func TestMalformed(t *testing.T) {
	good := validFile(t)
	primary := func(extra ...string) []string {
		return append([]string{"SIMPLE  =                    T", "BITPIX  =                  -64"}, extra...)
	}
	withCard := func(i int, card string) []byte {
		b := bytes.Clone(good)
		copy(b[i*80:(i+1)*80], pad80(card))
		return b
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"short header", good[:1000], "truncated header"},
		{"no END", bytes.Repeat([]byte(pad80("SIMPLE  =                    T")), 36), "without an END card"},
		{"truncated data", good[:BlockSize+20], "truncated data"},
		{"truncated extension data", good[:len(good)-BlockSize+8], "truncated data"},
		{"not FITS", bytes.Repeat([]byte("x"), BlockSize), "must start with SIMPLE"},
		{"SIMPLE F", rawHeader("SIMPLE  =                    F", "BITPIX  = 8", "NAXIS   = 0"), "SIMPLE = F"},
		{"non-ASCII", func() []byte { b := bytes.Clone(good); b[6*80+15] = 0xE9; return b }(), "not printable ASCII"},
		{"control char", func() []byte { b := bytes.Clone(good); b[6*80+15] = '\n'; return b }(), "not printable ASCII"},
		{"malformed value", withCard(6, "OBJECT  = 12ab / x"), "malformed value"},
		{"unterminated string", withCard(6, "OBJECT  = 'abc"), "unterminated string"},
		{"junk after value", withCard(6, "OBJECT  = 12 34"), "malformed value"},
		{"lower-case keyword", withCard(6, "object  = 1"), "invalid character"},
		{"embedded space", withCard(6, "OB JECT = 1"), "embedded spaces"},
		{"junk after string", withCard(6, "OBJECT  = 'abc' 34"), "unexpected"},
		{"bad float", withCard(6, "OBJECT  = 1.5E"), "malformed value"},
		{"float overflow", withCard(6, "OBJECT  = 1E999"), "out of float64 range"},
		{"bitpix", withCard(1, "BITPIX  =                   12"), "unsupported BITPIX 12"},
		{"bitpix type", withCard(1, "BITPIX  = 'a'"), "not an integer"},
		{"missing NAXIS1", withCard(3, "FOO     = 1"), "NAXIS1 is missing"},
		{"negative NAXIS2", withCard(4, "NAXIS2  =                   -2"), "NAXIS2 = -2 is negative"},
		{"negative NAXIS", withCard(2, "NAXIS   =                   -1"), "out of range"},
		{"missing NAXIS", rawHeader(primary()...), "missing NAXIS"},
		{"missing BITPIX", rawHeader("SIMPLE  =                    T", "NAXIS   = 0"), "missing BITPIX"},
		{"huge image", rawHeader(primary("NAXIS   = 2", "NAXIS1  = 100000000", "NAXIS2  = 100000000")...), "exceeds limit"},
		{"huge axis", rawHeader(primary("NAXIS   = 1", "NAXIS1  = 9000000000000000000")...), "absurdly large"},
		{"declared 1 GB", rawHeader(primary("NAXIS   = 2", "NAXIS1  = 16384", "NAXIS2  = 8192")...), "truncated data"},
		{"bad END", rawHeader(primary("NAXIS   = 0", "END     x")...), "END card"},
		{"bad BSCALE", func() []byte {
			b := bytes.Clone(good)
			i := bytes.Index(b, []byte("BSCALE  ="))
			copy(b[i:i+80], pad80("BSCALE  = 0"))
			return b
		}(), "invalid scaling"},
		{"garbage after HDU", append(bytes.Clone(good), []byte("GARBAGE!")...), "must start with XTENSION"},
		{"table without PCOUNT", append(bytes.Clone(good), rawHeader("XTENSION= 'BINTABLE'", "BITPIX  = 8", "NAXIS   = 0", "GCOUNT  = 1")...), "lacks PCOUNT"},
		{"image with GCOUNT 2", append(bytes.Clone(good), rawHeader("XTENSION= 'IMAGE'", "BITPIX  = 8", "NAXIS   = 0", "PCOUNT  = 0", "GCOUNT  = 2")...), "GCOUNT = 2"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		_, err := Read(bytes.NewReader(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want mention of %q", c.name, err, c.want)
			continue
		}
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".fits")
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = ReadFile(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ReadFile err = %v, want path and %q", c.name, err, c.want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.fits")); err == nil || !strings.Contains(err.Error(), "missing.fits") {
		t.Errorf("missing file: %v", err)
	}
}

// TestLenient: trailing blank padding and missing final data padding are
// accepted, as astropy does.
func TestLenient(t *testing.T) {
	good := validFile(t)
	want, err := Read(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"extra zero block": append(bytes.Clone(good), make([]byte, BlockSize)...),
		"short zero tail":  append(bytes.Clone(good), make([]byte, 100)...),
		"unpadded data":    good[:len(good)-BlockSize+16],
	} {
		got, err := Read(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != 2 || !sameFloats(got[1].Data, want[1].Data) {
			t.Errorf("%s: data differ", name)
		}
	}
}

// TestSmallAllocation: a 2880-byte file declaring 64 GiB of data must fail
// without allocating anywhere near that much.
func TestSmallAllocation(t *testing.T) {
	data := rawHeader("SIMPLE  = T", "BITPIX  = -64", "NAXIS   = 2", "NAXIS1  = 65536", "NAXIS2  = 131072")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(data))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated data") {
		t.Errorf("err = %v, want truncated data", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 4<<20 {
		t.Errorf("reading a tiny file allocated %d bytes", d)
	}
}
