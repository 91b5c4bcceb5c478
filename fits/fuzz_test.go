package fits

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fuzzSeeds are small valid files covering every BITPIX, scaling, BLANK,
// cubes, an empty primary and a skipped table.
func fuzzSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{validFile(t)}
	for _, bitpix := range []int{8, 16, 32, 64, -32, -64} {
		h := NewImage(2, 2, []float64{0, 1, 2, 3})
		h.Bitpix = bitpix
		h.Header.Set("EXPTIME", 12.5, "s")
		h.Header.AddHistory("seed")
		if bitpix > 0 {
			h.Header.Set("BLANK", int64(3), "")
			h.Data[3] = math.NaN()
		}
		e := NewCube(1, 2, 2, []float64{4, 5, 6, 7})
		e.Bitpix = bitpix
		e.Name = "E"
		var buf bytes.Buffer
		if err := Write(&buf, []*HDU{h, e}); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, buf.Bytes())
	}
	tbl := append(rawHeader("SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    0", "EXTEND  =                    T"),
		rawHeader("XTENSION= 'BINTABLE'", "BITPIX  =                    8", "NAXIS   =                    2",
			"NAXIS1  =                    4", "NAXIS2  =                    2", "PCOUNT  =                    3",
			"GCOUNT  =                    1", "TFIELDS =                    1", "TFORM1  = '1J      '")...)
	seeds = append(seeds, padData(append(tbl, bytes.Repeat([]byte{1}, 11)...)))
	return seeds
}

// FuzzRead: Read never panics, and whatever it reads round-trips through
// Write and Read: same shapes, BITPIX, names, non-structural cards, and
// data (bit-identical unless lossy scaling or 64-bit integers are involved).
//
// The coordinator's "execs" line can lag far behind the worker; set
// FITS_FUZZ_COUNT=/some/file to have the worker record its own count there
// every 10000 executions.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	countFile, execs := os.Getenv("FITS_FUZZ_COUNT"), 0
	f.Fuzz(func(t *testing.T, data []byte) {
		if execs++; countFile != "" && execs%10000 == 0 {
			os.WriteFile(countFile, []byte(strconv.Itoa(execs)+"\n"), 0o644)
		}
		hdus, err := Read(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fits: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		var images []*HDU
		for _, h := range hdus {
			if !h.Skipped {
				images = append(images, h)
			}
		}
		if len(images) == 0 {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, images); err != nil {
			// Only values that float64 physical data cannot carry back
			// exactly may fail: lossy BSCALE/BZERO or 64-bit integers.
			lossy := false
			for _, h := range images {
				bs, bz, _ := scaling(h.Header)
				lossy = lossy || bs != 1 || bz != 0 || h.Bitpix == 64
			}
			if lossy && strings.Contains(err.Error(), "out of range") {
				return
			}
			t.Fatalf("re-writing what was read failed: %v", err)
		}
		again, err := Read(&buf)
		if err != nil {
			t.Fatalf("re-reading what was written failed: %v", err)
		}
		if len(again) != len(images) {
			t.Fatalf("got %d HDUs back, wrote %d", len(again), len(images))
		}
		for i, a := range images {
			b := again[i]
			if a.Bitpix != b.Bitpix || !reflect.DeepEqual(a.Shape, b.Shape) && len(a.Shape)+len(b.Shape) > 0 || a.Name != b.Name {
				t.Fatalf("HDU %d: bitpix %d/%d shape %v/%v name %q/%q", i, a.Bitpix, b.Bitpix, a.Shape, b.Shape, a.Name, b.Name)
			}
			ca, cb := userCards(a.Header, a.Name != ""), userCards(b.Header, a.Name != "")
			if len(ca) != len(cb) {
				t.Fatalf("HDU %d: %d cards became %d:\n%#v\n%#v", i, len(ca), len(cb), ca, cb)
			}
			for k := range ca {
				if !reflect.DeepEqual(ca[k], cb[k]) && !sameCard(ca[k], cb[k]) {
					t.Fatalf("HDU %d card %d: %#v became %#v", i, k, ca[k], cb[k])
				}
			}
			if len(a.Data) != len(b.Data) {
				t.Fatalf("HDU %d: %d values became %d", i, len(a.Data), len(b.Data))
			}
			bs, bz, _ := scaling(a.Header)
			exact := bs == 1 && bz == 0 && a.Bitpix != 64
			for k := range a.Data {
				x, y := a.Data[k], b.Data[k]
				if x == y || math.IsNaN(x) && math.IsNaN(y) {
					continue
				}
				tol := 2*math.Abs(bs) + 1e-6*(math.Abs(x)+math.Abs(bz))
				if exact || !(math.Abs(x-y) <= tol) {
					t.Fatalf("HDU %d value %d: %v became %v (BITPIX %d, BSCALE %v, BZERO %v)", i, k, x, y, a.Bitpix, bs, bz)
				}
			}
		}
	})
}

// sameCard treats NaN-free float cards equal by value (DeepEqual already
// does) and long comments truncated identically as equal.
func sameCard(a, b Card) bool {
	return a.Key == b.Key && reflect.DeepEqual(a.Value, b.Value) && a.Comment == b.Comment
}
