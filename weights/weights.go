package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/lenscore/lenscore/atomicfile"
	"github.com/lenscore/lenscore/nn"
)

// MaxHeaderBytes bounds the JSON header length accepted by Load and ReadMeta
// (the same 100 MB limit as the reference safetensors reader).
const MaxHeaderBytes = 100 << 20

// MetadataKey is the reserved header entry holding string metadata.
const MetadataKey = "__metadata__"

// tensorInfo is one header entry.
type tensorInfo struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Save writes params and meta to path as a safetensors file. The write is
// atomic: the bytes go to a temporary file in the same directory, which is
// synced and then renamed over path. The output depends only on the
// arguments (tensors are laid out in name order, header keys are sorted).
// Non-finite values, duplicate or empty names, the reserved name
// "__metadata__" and data lengths that disagree with the shape are errors.
func Save(path string, params []*nn.Param, meta map[string]string) error {
	buf, err := Encode(params, meta)
	if err != nil {
		return fmt.Errorf("weights: save %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf)
}

// Encode returns the safetensors bytes that Save writes.
func Encode(params []*nn.Param, meta map[string]string) ([]byte, error) {
	order := make([]*nn.Param, len(params))
	copy(order, params)
	slices.SortFunc(order, func(a, b *nn.Param) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	header := make(map[string]any, len(order)+1)
	if len(meta) > 0 {
		m := make(map[string]string, len(meta))
		for k, v := range meta {
			m[k] = v
		}
		header[MetadataKey] = m
	}
	var off int64
	for i, p := range order {
		if p == nil {
			return nil, errors.New("nil parameter")
		}
		if p.Name == "" {
			return nil, errors.New("parameter with empty name")
		}
		if p.Name == MetadataKey {
			return nil, fmt.Errorf("parameter name %q is reserved", p.Name)
		}
		if i > 0 && order[i-1].Name == p.Name {
			return nil, fmt.Errorf("duplicate parameter name %q", p.Name)
		}
		n, err := shapeSize(p.Shape)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", p.Name, err)
		}
		if int64(len(p.Data)) != n {
			return nil, fmt.Errorf("parameter %q: shape %v needs %d values, has %d", p.Name, p.Shape, n, len(p.Data))
		}
		for j, v := range p.Data {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("parameter %q: non-finite value %v at index %d", p.Name, v, j)
			}
		}
		shape := p.Shape
		if shape == nil {
			shape = []int{}
		}
		header[p.Name] = tensorInfo{Dtype: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*n}}
		off += 4 * n
	}
	hj, err := json.Marshal(header) // map keys are emitted sorted
	if err != nil {
		return nil, err
	}
	// Pad the header with spaces so the data section starts 8-byte aligned,
	// as the reference writer does.
	for (8+len(hj))%8 != 0 {
		hj = append(hj, ' ')
	}
	out := make([]byte, 8+len(hj)+int(off))
	binary.LittleEndian.PutUint64(out, uint64(len(hj)))
	copy(out[8:], hj)
	pos := 8 + len(hj)
	for _, p := range order {
		for _, v := range p.Data {
			binary.LittleEndian.PutUint32(out[pos:], math.Float32bits(v))
			pos += 4
		}
	}
	return out, nil
}

// WriteFileAtomic writes data to path atomically (package atomicfile).
//
// Deprecated: use atomicfile.WriteFile.
func WriteFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	return nil
}

// Load reads the safetensors file at path into params, matching tensors to
// parameters by name, and returns the file's metadata (empty, non-nil map
// if it has none). The file must hold exactly the tensors of params, each
// F32 with the parameter's shape, with offsets that tile the data section
// without gaps or overlaps, and only finite values. On any error no
// parameter is modified and the error names the file and the problem.
func Load(path string, params []*nn.Param) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: load: %w", err)
	}
	meta, err := Decode(b, params)
	if err != nil {
		return nil, fmt.Errorf("weights: load %s: %w", path, err)
	}
	return meta, nil
}

// ReadMeta returns the metadata of the safetensors file at path after
// validating its header (the tensor data is not read).
func ReadMeta(path string) (map[string]string, error) {
	meta, _, err := ReadHeader(path)
	return meta, err
}

// ReadHeader returns the metadata and the tensor shapes (by name) of the
// safetensors file at path after validating its header, without reading
// the tensor data. Callers can check the sizes a file declares before
// allocating anything for them.
func ReadHeader(path string) (map[string]string, map[string][]int, error) {
	meta, tensors, err := readHeader(path)
	if err != nil {
		return nil, nil, err
	}
	shapes := make(map[string][]int, len(tensors))
	for name, ti := range tensors {
		shapes[name] = slices.Clone(ti.Shape)
	}
	return meta, shapes, nil
}

func readHeader(path string) (map[string]string, map[string]tensorInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: read metadata: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("weights: read metadata %s: %w", path, err)
	}
	var lb [8]byte
	if _, err := io.ReadFull(f, lb[:]); err != nil {
		return nil, nil, fmt.Errorf("weights: read metadata %s: file too short for the 8-byte header length (%d bytes)", path, st.Size())
	}
	hl, err := checkHeaderLen(binary.LittleEndian.Uint64(lb[:]), st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("weights: read metadata %s: %w", path, err)
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, nil, fmt.Errorf("weights: read metadata %s: reading header: %w", path, err)
	}
	meta, tensors, err := parseHeader(hb)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: read metadata %s: %w", path, err)
	}
	if err := checkOffsets(tensors, st.Size()-8-int64(hl)); err != nil {
		return nil, nil, fmt.Errorf("weights: read metadata %s: %w", path, err)
	}
	return meta, tensors, nil
}

// Decode is Load on an in-memory file.
func Decode(b []byte, params []*nn.Param) (map[string]string, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("file too short for the 8-byte header length (%d bytes)", len(b))
	}
	hl, err := checkHeaderLen(binary.LittleEndian.Uint64(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	meta, tensors, err := parseHeader(b[8 : 8+hl])
	if err != nil {
		return nil, err
	}
	data := b[8+hl:]
	if err := checkOffsets(tensors, int64(len(data))); err != nil {
		return nil, err
	}
	// Match parameters and tensors one to one.
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if p == nil {
			return nil, errors.New("nil parameter")
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("duplicate parameter name %q", p.Name)
		}
		seen[p.Name] = true
		ti, ok := tensors[p.Name]
		if !ok {
			return nil, fmt.Errorf("missing tensor %q", p.Name)
		}
		if !slices.Equal(ti.Shape, p.Shape) && !(len(ti.Shape) == 0 && len(p.Shape) == 0) {
			return nil, fmt.Errorf("tensor %q has shape %v, parameter needs %v", p.Name, ti.Shape, p.Shape)
		}
		if int64(len(p.Data))*4 != ti.DataOffsets[1]-ti.DataOffsets[0] {
			return nil, fmt.Errorf("tensor %q has %d bytes, parameter holds %d values", p.Name, ti.DataOffsets[1]-ti.DataOffsets[0], len(p.Data))
		}
	}
	if len(tensors) != len(params) {
		names := make([]string, 0)
		for name := range tensors {
			if !seen[name] {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%d unexpected tensor(s) not among the parameters, first %q", len(names), names[0])
	}
	// Check every value before modifying any parameter.
	for _, p := range params {
		ti := tensors[p.Name]
		seg := data[ti.DataOffsets[0]:ti.DataOffsets[1]]
		for j := 0; j < len(seg); j += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(seg[j:]))
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("tensor %q: non-finite value %v at index %d", p.Name, v, j/4)
			}
		}
	}
	for _, p := range params {
		ti := tensors[p.Name]
		seg := data[ti.DataOffsets[0]:ti.DataOffsets[1]]
		for j := range p.Data {
			p.Data[j] = math.Float32frombits(binary.LittleEndian.Uint32(seg[4*j:]))
		}
	}
	return meta, nil
}

func checkHeaderLen(hl uint64, fileSize int64) (int, error) {
	switch {
	case hl == 0:
		return 0, errors.New("header length is zero")
	case hl > MaxHeaderBytes:
		return 0, fmt.Errorf("header length %d exceeds the %d-byte limit", hl, MaxHeaderBytes)
	case hl > uint64(fileSize-8):
		return 0, fmt.Errorf("header length %d exceeds the %d bytes after the length field", hl, fileSize-8)
	}
	return int(hl), nil
}

func shapeSize(shape []int) (int64, error) {
	n := int64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if s > 0 && n > (1<<40)/int64(s) {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= int64(s)
	}
	return n, nil
}

// parseHeader decodes the JSON header strictly: a single object whose keys
// are unique, each a tensor entry with exactly the fields dtype, shape and
// data_offsets, plus optionally "__metadata__" mapping strings to strings.
func parseHeader(hb []byte) (map[string]string, map[string]tensorInfo, error) {
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("malformed JSON header: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("malformed JSON header: not an object")
	}
	meta := map[string]string{}
	tensors := map[string]tensorInfo{}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("malformed JSON header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("malformed JSON header: non-string key")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("malformed JSON header at %q: %v", key, err)
		}
		if key == MetadataKey {
			if seenMeta {
				return nil, nil, errors.New("duplicate __metadata__ entry")
			}
			seenMeta = true
			if meta, err = parseMeta(raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		if _, dup := tensors[key]; dup {
			return nil, nil, fmt.Errorf("duplicate tensor %q in header", key)
		}
		ti, err := parseTensor(key, raw)
		if err != nil {
			return nil, nil, err
		}
		tensors[key] = ti
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return nil, nil, fmt.Errorf("malformed JSON header: %v", err)
	}
	// Only trailing spaces (padding) may follow the object.
	rest, _ := io.ReadAll(dec.Buffered())
	if len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return nil, nil, errors.New("malformed JSON header: trailing data after the object")
	}
	return meta, tensors, nil
}

func parseMeta(raw json.RawMessage) (map[string]string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("__metadata__ is not a JSON object")
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("__metadata__ value of %q is not a string", k)
		}
		out[k] = s
	}
	return out, nil
}

func parseTensor(name string, raw json.RawMessage) (tensorInfo, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return tensorInfo{}, fmt.Errorf("tensor %q: entry is not a JSON object", name)
	}
	for k := range fields {
		if k != "dtype" && k != "shape" && k != "data_offsets" {
			return tensorInfo{}, fmt.Errorf("tensor %q: unknown field %q", name, k)
		}
	}
	var ti tensorInfo
	if err := json.Unmarshal(fields["dtype"], &ti.Dtype); err != nil {
		return ti, fmt.Errorf("tensor %q: missing or non-string dtype", name)
	}
	if ti.Dtype != "F32" {
		return ti, fmt.Errorf("tensor %q: dtype %q, only F32 is supported", name, ti.Dtype)
	}
	var shape []json.Number
	if err := json.Unmarshal(fields["shape"], &shape); err != nil || shape == nil {
		return ti, fmt.Errorf("tensor %q: missing or malformed shape", name)
	}
	ti.Shape = make([]int, len(shape))
	for i, s := range shape {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || v < 0 || v > 1<<40 {
			return ti, fmt.Errorf("tensor %q: shape entry %q is not a valid dimension", name, s)
		}
		ti.Shape[i] = int(v)
	}
	var offs []json.Number
	if err := json.Unmarshal(fields["data_offsets"], &offs); err != nil || len(offs) != 2 {
		return ti, fmt.Errorf("tensor %q: data_offsets must be two integers", name)
	}
	for i, s := range offs {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || v < 0 {
			return ti, fmt.Errorf("tensor %q: data offset %q is not a non-negative integer", name, s)
		}
		ti.DataOffsets[i] = v
	}
	n, err := shapeSize(ti.Shape)
	if err != nil {
		return ti, fmt.Errorf("tensor %q: %w", name, err)
	}
	if ti.DataOffsets[1] < ti.DataOffsets[0] {
		return ti, fmt.Errorf("tensor %q: data_offsets %v end before they begin", name, ti.DataOffsets)
	}
	if ti.DataOffsets[1]-ti.DataOffsets[0] != 4*n {
		return ti, fmt.Errorf("tensor %q: data_offsets %v span %d bytes, shape %v of F32 needs %d", name, ti.DataOffsets, ti.DataOffsets[1]-ti.DataOffsets[0], ti.Shape, 4*n)
	}
	return ti, nil
}

// checkOffsets requires the tensors to tile [0, size) exactly: sorted by
// start, each begins where the previous ended and the last ends at size.
func checkOffsets(tensors map[string]tensorInfo, size int64) error {
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(tensors))
	for name, ti := range tensors {
		spans = append(spans, span{name, ti.DataOffsets[0], ti.DataOffsets[1]})
	}
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.begin != b.begin:
			if a.begin < b.begin {
				return -1
			}
			return 1
		case a.end != b.end:
			if a.end < b.end {
				return -1
			}
			return 1
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	var pos int64
	for _, s := range spans {
		if s.end > size {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] beyond the %d-byte data section (truncated file?)", s.name, s.begin, s.end, size)
		}
		if s.begin < pos {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] overlap the previous tensor (ends at %d)", s.name, s.begin, s.end, pos)
		}
		if s.begin > pos {
			return fmt.Errorf("tensor %q: data_offsets [%d %d] leave a gap after byte %d", s.name, s.begin, s.end, pos)
		}
		pos = s.end
	}
	if pos != size {
		return fmt.Errorf("data section has %d bytes but the tensors cover %d", size, pos)
	}
	return nil
}
