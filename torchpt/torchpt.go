package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/weights"
)

// Tensor is one entry of a state dict, converted to float32 and stored
// contiguously (row-major in the order of Shape).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// MaxPickleBytes bounds the size of data.pkl.
const MaxPickleBytes = 64 << 20

// ReadStateDict reads the state-dict checkpoint at path; see the package
// documentation for what is accepted. The tensors come in the dict's order.
func ReadStateDict(path string) ([]Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	ts, err := DecodeStateDict(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("torchpt: %s: %w", path, err)
	}
	return ts, nil
}

// DecodeStateDict reads a state-dict checkpoint of size bytes from r.
// Errors do not name a file; ReadStateDict adds it.
func DecodeStateDict(r io.ReaderAt, size int64) ([]Tensor, error) {
	var head [4]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return nil, fmt.Errorf("not a PyTorch checkpoint: %w", err)
	}
	if head[0] == 0x80 {
		return nil, errors.New("legacy (pre-1.6, non-zip) PyTorch checkpoint; re-save it with torch.save in PyTorch ≥ 1.6")
	}
	if string(head[:]) != "PK\x03\x04" {
		return nil, errors.New("not a PyTorch checkpoint (not a zip archive)")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("reading the zip archive: %w", err)
	}
	var pkl *zip.File
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if f.CompressedSize64 > uint64(size) {
			return nil, fmt.Errorf("zip entry %s declares %d bytes, more than the file's %d", f.Name, f.CompressedSize64, size)
		}
		files[f.Name] = f
		if pkl == nil && path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, errors.New("zip archive has no ARCHIVE/data.pkl entry (not a torch.save checkpoint)")
	}
	prefix := path.Dir(pkl.Name) + "/"
	if f, ok := files[prefix+"byteorder"]; ok {
		b, err := readEntry(f, 16)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("%s says %q; only little-endian checkpoints are supported", f.Name, s)
		}
	}
	p, err := readEntry(pkl, MaxPickleBytes)
	if err != nil {
		return nil, err
	}
	storages := map[string]storageRef{}
	persistent := func(t tuple) (any, error) {
		if len(t) != 5 || t[0] != "storage" {
			return nil, fmt.Errorf("persistent id %s is not a ('storage', type, key, location, numel) tuple", typeName(t))
		}
		g, ok := t[1].(global)
		if !ok || g.module != "torch" {
			return nil, fmt.Errorf("persistent id: storage type is a %s", typeName(t[1]))
		}
		key, ok1 := t[2].(string)
		loc, ok2 := t[3].(string)
		numel, ok3 := t[4].(int64)
		if !ok1 || !ok2 || !ok3 || numel < 0 {
			return nil, errors.New("persistent id: bad key, location or numel")
		}
		f, ok := files[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("storage %q has no entry %sdata/%s in the zip", key, prefix, key)
		}
		dt := storageTypes[g.name]
		es := elemSize(dt)
		if numel > math.MaxInt64/es || uint64(numel*es) != f.UncompressedSize64 {
			return nil, fmt.Errorf("storage %q declares %d %s elements (%d bytes) but its entry holds %d bytes", key, numel, dt, numel*es, f.UncompressedSize64)
		}
		s := storageRef{dtype: dt, key: key, location: loc, numel: numel}
		if old, ok := storages[key]; ok && old != s {
			return nil, fmt.Errorf("storage %q declared twice with different types or sizes", key)
		}
		storages[key] = s
		return s, nil
	}
	v, err := unpickle(p, persistent)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*odict)
	if !ok {
		return nil, fmt.Errorf("the pickle holds a %s, not a state dict", typeName(v))
	}
	// Read each storage once, converted to float32.
	data := map[string][]float32{}
	var out []Tensor
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %v is a %s, not a string", k, typeName(k))
		}
		tr, ok := d.vals[k].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("state dict entry %q is a %s, not a tensor", name, typeName(d.vals[k]))
		}
		sd, ok := data[tr.storage.key]
		if !ok {
			f := files[prefix+"data/"+tr.storage.key]
			b, err := readEntry(f, int64(f.UncompressedSize64))
			if err != nil {
				return nil, err
			}
			sd = convert(b, tr.storage.dtype)
			data[tr.storage.key] = sd
		}
		t := Tensor{Name: name, Shape: make([]int, len(tr.size))}
		n := 1
		for i, s := range tr.size {
			t.Shape[i] = int(s)
			n *= int(s)
		}
		t.Data = make([]float32, n)
		gather(t.Data, sd, tr)
		out = append(out, t)
	}
	return out, nil
}

func elemSize(dtype string) int64 {
	switch dtype {
	case "float64":
		return 8
	case "float16", "bfloat16":
		return 2
	}
	return 4
}

// readEntry reads a zip entry of at most max bytes. Entries must be
// stored uncompressed (as torch.save writes them), so that the size checked
// here is that of bytes present in the file.
func readEntry(f *zip.File, max int64) ([]byte, error) {
	if f.Method != zip.Store || f.CompressedSize64 != f.UncompressedSize64 {
		return nil, fmt.Errorf("zip entry %s is compressed (method %d); torch.save stores entries uncompressed", f.Name, f.Method)
	}
	if f.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("zip entry %s declares %d bytes, more than the %d allowed", f.Name, f.UncompressedSize64, max)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
	}
	defer rc.Close()
	b := make([]byte, 0, f.UncompressedSize64)
	buf := bytes.NewBuffer(b)
	if _, err := io.Copy(buf, io.LimitReader(rc, max+1)); err != nil {
		return nil, fmt.Errorf("zip entry %s: %w", f.Name, err)
	}
	if uint64(buf.Len()) != f.UncompressedSize64 {
		return nil, fmt.Errorf("zip entry %s holds %d bytes, its header says %d", f.Name, buf.Len(), f.UncompressedSize64)
	}
	return buf.Bytes(), nil
}

func convert(b []byte, dtype string) []float32 {
	es := int(elemSize(dtype))
	out := make([]float32, len(b)/es)
	for i := range out {
		switch dtype {
		case "float32":
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		case "float64":
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		case "bfloat16":
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		case "float16":
			out[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
	return out
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	case exp == 0:
		v := float32(man) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | man<<13)
}

// gather copies the strided view tr of storage s into dst (row-major).
func gather(dst, s []float32, tr *tensorRef) {
	if len(dst) == 0 {
		return
	}
	nd := len(tr.size)
	idx := make([]int64, nd)
	for k := range dst {
		o := tr.offset
		for i := 0; i < nd; i++ {
			o += idx[i] * tr.stride[i]
		}
		dst[k] = s[o]
		for i := nd - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < tr.size[i] {
				break
			}
			idx[i] = 0
		}
	}
}

// EncodeStateDict returns a checkpoint holding ts (float32, in this order)
// under the archive name archive, which torch.load reads as an OrderedDict
// of tensors.
func EncodeStateDict(archive string, ts []Tensor) ([]byte, error) {
	if archive == "" || strings.ContainsAny(archive, "/\\") {
		return nil, fmt.Errorf("torchpt: archive name %q must be a non-empty name without slashes", archive)
	}
	seen := map[string]bool{}
	var p bytes.Buffer
	p.Write([]byte{0x80, 2})
	p.WriteString("ccollections\nOrderedDict\n)R(")
	for i, t := range ts {
		n := 1
		for _, s := range t.Shape {
			if s < 0 {
				return nil, fmt.Errorf("torchpt: tensor %q has negative shape %v", t.Name, t.Shape)
			}
			n *= s
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("torchpt: tensor %q has shape %v but %d values", t.Name, t.Shape, len(t.Data))
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("torchpt: tensor name %q repeated", t.Name)
		}
		seen[t.Name] = true
		pickleString(&p, t.Name)
		p.WriteString("ctorch._utils\n_rebuild_tensor_v2\n((")
		pickleString(&p, "storage")
		p.WriteString("ctorch\nFloatStorage\n")
		pickleString(&p, fmt.Sprint(i))
		pickleString(&p, "cpu")
		pickleInt(&p, int64(n))
		p.WriteString("tQ")
		pickleInt(&p, 0)
		p.WriteByte('(')
		for _, s := range t.Shape {
			pickleInt(&p, int64(s))
		}
		p.WriteString("t(")
		st := 1
		strides := make([]int64, len(t.Shape))
		for j := len(t.Shape) - 1; j >= 0; j-- {
			strides[j] = int64(st)
			st *= t.Shape[j]
		}
		for _, s := range strides {
			pickleInt(&p, s)
		}
		p.WriteString("t\x89ccollections\nOrderedDict\n)RtR")
	}
	p.WriteString("u.")

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name string, data []byte) error {
		// Pad the local header's extra field so the data starts at a
		// multiple of 64 bytes, as PyTorch's writer does.
		off := buf.Len()
		hdr := 30 + len(name) + 4 // header, name, extra-field id and size
		pad := (64 - (off+hdr)%64) % 64
		extra := make([]byte, 4+pad)
		binary.LittleEndian.PutUint16(extra, 0x1234)
		binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
		fh := &zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(data),
			CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)), Extra: extra}
		w, err := zw.CreateRaw(fh)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		return zw.Flush()
	}
	if err := put(archive+"/data.pkl", p.Bytes()); err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	if err := put(archive+"/byteorder", []byte("little")); err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	for i, t := range ts {
		b := make([]byte, 4*len(t.Data))
		for j, v := range t.Data {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		if err := put(fmt.Sprintf("%s/data/%d", archive, i), b); err != nil {
			return nil, fmt.Errorf("torchpt: %w", err)
		}
	}
	if err := put(archive+"/version", []byte("3\n")); err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("torchpt: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteStateDict writes ts as a checkpoint at path (atomically: a temporary
// file renamed over path), with the archive name taken from path's base
// name without extension, as torch.save does.
func WriteStateDict(path string, ts []Tensor) error {
	archive := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	b, err := EncodeStateDict(archive, ts)
	if err != nil {
		return err
	}
	return weights.WriteFileAtomic(path, b)
}

func pickleString(b *bytes.Buffer, s string) {
	b.WriteByte('X')
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	b.Write(n[:])
	b.WriteString(s)
}

func pickleInt(b *bytes.Buffer, v int64) {
	switch {
	case v >= 0 && v < 256:
		b.WriteByte('K')
		b.WriteByte(byte(v))
	case v >= 0 && v < 65536:
		b.WriteByte('M')
		b.WriteByte(byte(v))
		b.WriteByte(byte(v >> 8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		b.WriteByte('J')
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(int32(v)))
		b.Write(n[:])
	default:
		b.Write([]byte{0x8a, 8})
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		b.Write(n[:])
	}
}
