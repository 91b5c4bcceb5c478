package fits

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawHeader builds a header from card texts: each padded to 80 bytes, then
// END, then spaces to a block boundary.
func rawHeader(cards ...string) []byte {
	var b []byte
	for _, c := range cards {
		b = append(b, pad80(c)...)
	}
	b = append(b, pad80("END")...)
	for len(b)%BlockSize != 0 {
		b = append(b, ' ')
	}
	return b
}

// padData zero-pads data bytes to a block boundary.
func padData(d []byte) []byte {
	for len(d)%BlockSize != 0 {
		d = append(d, 0)
	}
	return d
}

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// userCards drops the structural cards the writer generates.
func userCards(h Header, hasName bool) []Card {
	var out []Card
	for _, c := range h.Cards {
		if !structural(normKey(c.Key), hasName) {
			out = append(out, c)
		}
	}
	return out
}

func roundTrip(t *testing.T, hdus []*HDU) []*HDU {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, hdus); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%BlockSize != 0 {
		t.Fatalf("output length %d not a multiple of %d", buf.Len(), BlockSize)
	}
	got, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRoundTripBitpix writes every BITPIX, 2-D and 3-D, with and without
// BSCALE/BZERO, and checks values come back bit-identical. The stored
// integers are chosen so that BZERO + BSCALE·s is exact in float64.
func TestRoundTripBitpix(t *testing.T) {
	for _, bitpix := range []int{8, 16, 32, 64, -32, -64} {
		for _, shape := range [][]int{{5, 3}, {4, 3, 2}} {
			for _, scaled := range []bool{false, true} {
				n := 1
				for _, s := range shape {
					n *= s
				}
				bscale, bzero := 1.0, 0.0
				if scaled {
					bscale, bzero = 0.25, -1000
				}
				data := make([]float64, n)
				for i := range data {
					var s float64
					switch bitpix {
					case 8:
						s = float64(i * 7 % 256)
					case 16:
						s = float64((i*1237)%65536 - 32768)
					case 32:
						s = float64(int64(i)*123456789%4294967296 - 2147483648)
					case 64:
						s = float64(int64(i)*1e15 - 9e15)
					case -32:
						s = float64(float32(1.1) * float32(i-7))
					case -64:
						s = 1.1*float64(i) - math.Pi
					}
					data[i] = bzero + bscale*s
				}
				if bitpix == -64 && !scaled {
					data[1] = math.NaN()
					data[2] = math.Inf(-1)
				}
				h := &HDU{Shape: shape, Data: data, Bitpix: bitpix}
				if scaled {
					h.Header.Set("BSCALE", bscale, "")
					h.Header.Set("BZERO", bzero, "")
				}
				ext := &HDU{Shape: shape, Data: data, Bitpix: bitpix, Name: "SCI", Header: h.Header}
				got := roundTrip(t, []*HDU{h, ext})
				if len(got) != 2 {
					t.Fatalf("BITPIX %d: got %d HDUs", bitpix, len(got))
				}
				for k, g := range got {
					if g.Bitpix != bitpix || !reflect.DeepEqual(g.Shape, shape) {
						t.Errorf("BITPIX %d shape %v HDU %d: got BITPIX %d shape %v", bitpix, shape, k, g.Bitpix, g.Shape)
					}
					if !sameFloats(g.Data, data) {
						t.Errorf("BITPIX %d shape %v scaled %v HDU %d: data differ\n got %v\nwant %v", bitpix, shape, scaled, k, g.Data, data)
					}
				}
				if got[1].Name != "SCI" || got[1].Extension != "IMAGE" || got[0].Extension != "" {
					t.Errorf("names: %q %q %q", got[1].Name, got[1].Extension, got[0].Extension)
				}
			}
		}
	}
}

// TestBlank: NaN in integer data needs a BLANK card, and reads back as NaN.
func TestBlank(t *testing.T) {
	h := NewImage(3, 1, []float64{1, math.NaN(), 3})
	h.Bitpix = 16
	var buf bytes.Buffer
	err := Write(&buf, []*HDU{h})
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN in BITPIX 16 without BLANK: err = %v", err)
	}
	h.Header.Set("BLANK", -32768, "")
	got := roundTrip(t, []*HDU{h})
	if !sameFloats(got[0].Data, h.Data) {
		t.Errorf("got %v want %v", got[0].Data, h.Data)
	}
}

// TestWriteErrors checks that bad HDUs are refused with a clear message.
func TestWriteErrors(t *testing.T) {
	img := func(mod func(h *HDU)) *HDU {
		h := NewImage(2, 2, []float64{1, 2, 3, 4})
		mod(h)
		return h
	}
	cases := []struct {
		name string
		h    *HDU
		want string
	}{
		{"out of range", img(func(h *HDU) { h.Bitpix = 8; h.Data[0] = 256 }), "out of range"},
		{"negative uint8", img(func(h *HDU) { h.Bitpix = 8; h.Data[0] = -1 }), "out of range"},
		{"int16 overflow", img(func(h *HDU) { h.Bitpix = 16; h.Data[0] = 40000 }), "out of range"},
		{"length", img(func(h *HDU) { h.Data = h.Data[:3] }), "len(Data) = 3"},
		{"bitpix", img(func(h *HDU) { h.Bitpix = 12 }), "unsupported BITPIX 12"},
		{"negative axis", img(func(h *HDU) { h.Shape = []int{-2, -2} }), "negative"},
		{"bad key", img(func(h *HDU) { h.Header.Set("TOO_LONG_KEY", 1, "") }), "longer than 8"},
		{"bad key char", img(func(h *HDU) { h.Header.Set("A B", 1, "") }), "invalid character"},
		{"long string", img(func(h *HDU) { h.Header.Set("OBJECT", strings.Repeat("x", 69), "") }), "too long"},
		{"non-ascii", img(func(h *HDU) { h.Header.Set("OBJECT", "café", "") }), "not printable ASCII"},
		{"nan card", img(func(h *HDU) { h.Header.Set("X", math.NaN(), "") }), "cannot be written"},
		{"type", img(func(h *HDU) { h.Header.Set("X", []int{1}, "") }), "unsupported value type"},
		{"bscale 0", img(func(h *HDU) { h.Header.Set("BSCALE", 0.0, "") }), "BSCALE"},
		{"skipped", img(func(h *HDU) { h.Skipped = true; h.Extension = "BINTABLE" }), "non-image"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := Write(&buf, []*HDU{c.h})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want mention of %q", c.name, err, c.want)
		}
	}
}

// TestHeaderCardsRoundTrip writes cards of every kind and reads them back
// in the same order with the same values and comments.
func TestHeaderCardsRoundTrip(t *testing.T) {
	h := NewImage(2, 2, nil)
	long := strings.Repeat("0123456789", 10)
	want := []Card{
		{"OBJECT", "NGC 1234 'core'", "target"},
		{"LEADSP", "  lead", ""},
		{"EMPTY", "", "empty string"},
		{"EXPTIME", 1200.5, "seconds"},
		{"TINY", 1e-300, "a comment of 55 characters that only fits if compacted"},
		{"BIG", -2.2250738585072014e-308, "comment"},
		{"INTEGER", int64(-42), ""},
		{"HUGE", int64(math.MaxInt64), ""},
		{"TENTH", 0.1, "a tenth"},
		{"WHOLE", 3.0, ""},
		{"FLAG", true, "a logical"},
		{"OFF", false, ""},
		{"UNDEF", nil, "no value"},
		{"COMMENT", nil, "  indented comment text"},
		{"HISTORY", nil, "made by the test"},
		{"", nil, "blank keyword"},
		{"DATE-OBS", "2024-01-02T03:04:05", ""},
	}
	for _, c := range want {
		h.Header.Add(c.Key, c.Value, c.Comment)
	}
	h.Header.AddHistory(long)
	h.Header.Add("TRUNC", int64(7), long)
	got := roundTrip(t, []*HDU{h})[0]
	if c, _ := got.Header.Get("TRUNC"); c.Value != int64(7) || !strings.HasPrefix(long, c.Comment) || len(c.Comment) < 40 {
		t.Errorf("over-long comment not truncated to fit: %#v", c)
	}
	got.Header.Delete("TRUNC")
	cards := userCards(got.Header, false)
	if len(cards) != len(want)+2 {
		t.Fatalf("got %d cards, want %d: %v", len(cards), len(want)+2, cards)
	}
	for i, c := range want {
		if !reflect.DeepEqual(cards[i], c) {
			t.Errorf("card %d: got %#v want %#v", i, cards[i], c)
		}
	}
	if a, b := cards[len(want)], cards[len(want)+1]; a.Key != "HISTORY" || b.Key != "HISTORY" || a.Comment+b.Comment != long {
		t.Errorf("long HISTORY split as %q + %q", a.Comment, b.Comment)
	}
	if v, ok, err := got.Header.Float("EXPTIME"); v != 1200.5 || !ok || err != nil {
		t.Errorf("Float(EXPTIME) = %v %v %v", v, ok, err)
	}
	if v, ok, err := got.Header.Float("INTEGER"); v != -42 || !ok || err != nil {
		t.Errorf("Float(INTEGER) = %v %v %v", v, ok, err)
	}
	if _, ok, err := got.Header.Int("OBJECT"); !ok || err == nil {
		t.Errorf("Int(OBJECT) should fail: %v %v", ok, err)
	}
	if v, ok, _ := got.Header.Bool("flag"); !v || !ok {
		t.Errorf("Bool(flag) = %v %v", v, ok)
	}
	if _, ok, _ := got.Header.String("MISSING"); ok {
		t.Errorf("String(MISSING) reported present")
	}
	got.Header.Set("OBJECT", "other", "c")
	if c, _ := got.Header.Get("OBJECT"); c.Value != "other" || c.Comment != "c" {
		t.Errorf("Set did not replace: %#v", c)
	}
	if n := got.Header.Delete("HISTORY"); n != 3 {
		t.Errorf("Delete(HISTORY) = %d, want 3", n)
	}
}

// TestKnownBytes compares the writer's output with a hand-made layout.
func TestKnownBytes(t *testing.T) {
	h := NewImage(3, 2, []float64{1, -2, 0.5, 0, 0, 0})
	h.Header.Set("OBSERVER", "Edwin", "who")
	var buf bytes.Buffer
	if err := Write(&buf, []*HDU{h}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if len(b) != 2*BlockSize {
		t.Fatalf("length %d, want %d", len(b), 2*BlockSize)
	}
	wantCards := []string{
		"SIMPLE  =                    T / conforms to FITS standard",
		"BITPIX  =                  -64 / array data type",
		"NAXIS   =                    2 / number of array dimensions",
		"NAXIS1  =                    3",
		"NAXIS2  =                    2",
		"EXTEND  =                    T / extensions may follow",
		"OBSERVER= 'Edwin   '           / who",
		"END",
	}
	for i, c := range wantCards {
		if got := string(b[i*80 : (i+1)*80]); got != pad80(c) {
			t.Errorf("card %d:\n got %q\nwant %q", i, got, pad80(c))
		}
	}
	if !allBlank(b[len(wantCards)*80:BlockSize]) || bytes.IndexByte(b[len(wantCards)*80:BlockSize], 0) >= 0 {
		t.Error("header padding is not spaces")
	}
	// 1.0 = 0x3FF0000000000000, -2.0 = 0xC000000000000000, 0.5 = 0x3FE0...
	wantData := []byte{0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0, 0x3F, 0xE0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b[BlockSize:BlockSize+24], wantData) {
		t.Errorf("data bytes % x", b[BlockSize:BlockSize+24])
	}
	for _, c := range b[BlockSize+48:] {
		if c != 0 {
			t.Fatal("data padding is not zero")
		}
	}

	h16 := NewImage(2, 1, []float64{-2, 300})
	h16.Bitpix = 16
	buf.Reset()
	if err := Write(&buf, []*HDU{h16}); err != nil {
		t.Fatal(err)
	}
	if got := buf.Bytes()[BlockSize : BlockSize+4]; !bytes.Equal(got, []byte{0xFF, 0xFE, 0x01, 0x2C}) {
		t.Errorf("int16 bytes % x", got)
	}
}

// TestReadHandBuilt reads a file assembled byte by byte: an unsigned 16-bit
// image (BZERO = 32768), a BINTABLE with a heap that must be skipped, and a
// float32 cube extension.
func TestReadHandBuilt(t *testing.T) {
	var f []byte
	f = append(f, rawHeader(
		"SIMPLE  =                    T",
		"BITPIX  =                   16",
		"NAXIS   =                    2",
		"NAXIS1  =                    2",
		"NAXIS2  =                    2",
		"BZERO   =                32768",
		"BSCALE  =                  1.0",
		"COMMENT hello",
		"DATE    = '2020-01-01'         / a date",
	)...)
	// stored -32768, -1, 0, 32767 -> physical 0, 32767, 32768, 65535
	f = append(f, padData([]byte{0x80, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x7F, 0xFF})...)
	f = append(f, rawHeader(
		"XTENSION= 'BINTABLE'",
		"BITPIX  =                    8",
		"NAXIS   =                    2",
		"NAXIS1  =                   10",
		"NAXIS2  =                  300",
		"PCOUNT  =                 2000",
		"GCOUNT  =                    1",
		"TFIELDS =                    1",
		"TFORM1  = '10A     '",
	)...)
	f = append(f, padData(bytes.Repeat([]byte{'x'}, 5000))...)
	f = append(f, rawHeader(
		"XTENSION= 'IMAGE   '",
		"BITPIX  =                  -32",
		"NAXIS   =                    3",
		"NAXIS1  =                    1",
		"NAXIS2  =                    1",
		"NAXIS3  =                    2",
		"PCOUNT  =                    0",
		"GCOUNT  =                    1",
		"EXTNAME = 'CUBE    '",
	)...)
	d := make([]byte, 8)
	binary.BigEndian.PutUint32(d, math.Float32bits(1.5))
	binary.BigEndian.PutUint32(d[4:], math.Float32bits(-3))
	f = append(f, padData(d)...)

	hdus, err := Read(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if len(hdus) != 3 {
		t.Fatalf("got %d HDUs", len(hdus))
	}
	if want := []float64{0, 32767, 32768, 65535}; !sameFloats(hdus[0].Data, want) {
		t.Errorf("uint16 data %v want %v", hdus[0].Data, want)
	}
	if c := hdus[0].Header.Cards[7]; c.Key != "COMMENT" || c.Comment != "hello" {
		t.Errorf("COMMENT card %#v", c)
	}
	if c := hdus[0].Header.Cards[8]; c.Key != "DATE" || c.Value != "2020-01-01" || c.Comment != "a date" {
		t.Errorf("DATE card %#v", c)
	}
	tb := hdus[1]
	if !tb.Skipped || tb.Extension != "BINTABLE" || tb.Data != nil {
		t.Errorf("table HDU: %+v", tb)
	}
	if v, _, _ := tb.Header.String("TFORM1"); v != "10A" {
		t.Errorf("table header TFORM1 = %q", v)
	}
	cube, ok := ByName(hdus, "cube")
	if !ok || !reflect.DeepEqual(cube.Shape, []int{1, 1, 2}) || !sameFloats(cube.Data, []float64{1.5, -3}) {
		t.Errorf("cube: %v %+v", ok, cube)
	}
	// Writing the images back (dropping the table) preserves them.
	got := roundTrip(t, []*HDU{hdus[0], hdus[2]})
	if !sameFloats(got[0].Data, hdus[0].Data) || !sameFloats(got[1].Data, hdus[2].Data) {
		t.Error("re-written images differ")
	}
}

// TestExtensionOnly: an empty primary (NAXIS = 0) followed by extensions.
func TestExtensionOnly(t *testing.T) {
	a := NewImage(2, 2, []float64{1, 2, 3, 4})
	a.Name = "A"
	b := NewCube(2, 1, 2, []float64{5, 6, 7, 8})
	b.Name = "B"
	b.Bitpix = -32
	got := roundTrip(t, []*HDU{{}, a, b})
	if len(got) != 3 || len(got[0].Shape) != 0 || len(got[0].Data) != 0 {
		t.Fatalf("primary: %+v", got[0])
	}
	if h, ok := ByName(got, "B"); !ok || !sameFloats(h.Data, b.Data) || !reflect.DeepEqual(h.Shape, []int{2, 1, 2}) {
		t.Errorf("B: %+v", h)
	}
	if _, ok := ByName(got, "C"); ok {
		t.Error("found nonexistent C")
	}
}

// TestWriteFileAtomic writes, overwrites and reads a file, and checks no
// temporary file is left behind and that errors name the path.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "img.fits")
	for _, v := range []float64{1, 2} {
		if err := WriteFile(path, []*HDU{NewImage(1, 1, []float64{v})}); err != nil {
			t.Fatal(err)
		}
	}
	hdus, err := ReadFile(path)
	if err != nil || hdus[0].Data[0] != 2 {
		t.Fatalf("ReadFile: %v %v", hdus, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v (%v), want -rw-r--r--", st.Mode().Perm(), err)
	}
	bad := NewImage(1, 1, []float64{math.NaN()})
	bad.Bitpix = 8
	if err := WriteFile(path, []*HDU{bad}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("failed WriteFile error %v should name the path", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("failed write left %d entries", len(ents))
	}
	if hdus, err := ReadFile(path); err != nil || hdus[0].Data[0] != 2 {
		t.Error("failed write damaged the existing file")
	}
	missing := filepath.Join(dir, "nodir", "x.fits")
	if err := WriteFile(missing, hdus); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("WriteFile to missing dir: %v", err)
	}
}

// sharedDir finds ../shared/data/galaxies/cosmos_hst beside the repository.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for range 6 {
		p := filepath.Join(dir, "shared", "data", "galaxies", "cosmos_hst")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		dir = filepath.Dir(dir)
	}
	t.Skip("shared/data/galaxies/cosmos_hst not found beside the repository: skipping real-data test")
	return ""
}

// TestSharedData reads the 100-HDU COSMOS postage-stamp file and the
// catalogue files (BINTABLE skipped), checking shapes against NAXISn and the
// first pixel against a direct decoding of the file bytes.
func TestSharedData(t *testing.T) {
	dir := sharedDir(t)
	path := filepath.Join(dir, "cosmos26_btk", "real_galaxy_images_extension.fits")
	hdus, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(hdus) != 100 {
		t.Fatalf("got %d HDUs, want 100", len(hdus))
	}
	for i, h := range hdus {
		nx, _, _ := h.Header.Int("NAXIS1")
		ny, _, _ := h.Header.Int("NAXIS2")
		if h.Skipped || h.Bitpix != -64 || len(h.Shape) != 2 || h.Shape[0] != int(nx) || h.Shape[1] != int(ny) || len(h.Data) != int(nx*ny) {
			t.Fatalf("HDU %d: bitpix %d shape %v", i, h.Bitpix, h.Shape)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := math.Float64frombits(binary.BigEndian.Uint64(raw[BlockSize:])); hdus[0].Data[0] != want {
		t.Errorf("first pixel %v, file bytes say %v", hdus[0].Data[0], want)
	}
	cats, _ := filepath.Glob(filepath.Join(dir, "*", "*catalog*.fits"))
	if len(cats) == 0 {
		t.Fatal("no catalogue files found")
	}
	for _, c := range cats {
		hdus, err := ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(hdus) != 2 || !hdus[1].Skipped || hdus[1].Extension != "BINTABLE" || len(hdus[0].Shape) != 0 {
			t.Errorf("%s: unexpected HDUs", c)
		}
		if n, ok, _ := hdus[1].Header.Int("TFIELDS"); !ok || n <= 0 {
			t.Errorf("%s: table header lost TFIELDS", c)
		}
	}
}
