package torchpt

import (
	"bytes"
	"os"
	"testing"
)

// FuzzDecodeStateDict feeds arbitrary archives and pickles to the reader:
// it must return tensors or an error, never panic or allocate beyond what
// the input holds. Seeds: a real torch.save checkpoint, one of ours, and
// bare pickles wrapped in a zip.
func FuzzDecodeStateDict(f *testing.F) {
	if b, err := os.ReadFile(fixture); err == nil {
		f.Add(b)
	}
	b, _ := EncodeStateDict("a", sample()[:3])
	f.Add(b)
	f.Add([]byte("\x80\x02}q\x00."))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := DecodeStateDict(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		total := 0
		for _, x := range ts {
			if len(x.Data) != prod(x.Shape) {
				t.Fatalf("%s: %d values for shape %v", x.Name, len(x.Data), x.Shape)
			}
			total += len(x.Data)
		}
		if total > 4*len(b)+16 {
			t.Fatalf("%d values decoded from %d bytes", total, len(b))
		}
	})
}

// FuzzUnpickle drives the unpickler directly (the zip layer hides most
// pickle mutations from FuzzDecodeStateDict).
func FuzzUnpickle(f *testing.F) {
	p := pk().proto().dict().mark().str("w").rebuild("FloatStorage", "0", 2, 0, []int64{2}, []int64{1}).op("u.")
	f.Add(p.b.Bytes())
	f.Add(pk().proto().op("cos\nsystem\n").str("x").op("\x85R.").b.Bytes())
	f.Add([]byte("\x80\x02]q\x00(K\x01K\x02e}b."))
	f.Fuzz(func(t *testing.T, b []byte) {
		unpickle(b, func(tp tuple) (any, error) {
			if len(tp) != 5 {
				return nil, os.ErrInvalid
			}
			n, _ := tp[4].(int64)
			if n < 0 || n > 1<<20 {
				return nil, os.ErrInvalid
			}
			return storageRef{dtype: "float32", key: "0", numel: n}, nil
		})
	})
}
