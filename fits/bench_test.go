package fits

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkWrite64 writes one 64×64 float64 image (BITPIX -64).
func BenchmarkWrite64(b *testing.B) {
	h := NewImage(64, 64, nil)
	for i := range h.Data {
		h.Data[i] = float64(i) * 0.5
	}
	hdus := []*HDU{h}
	b.SetBytes(BlockSize + 12*BlockSize) // header block + 32768 data bytes padded
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, hdus); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead64 reads one 64×64 float64 image back.
func BenchmarkRead64(b *testing.B) {
	var buf bytes.Buffer
	if err := Write(&buf, []*HDU{NewImage(64, 64, nil)}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
