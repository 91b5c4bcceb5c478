package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/atomicfile"
)

const magic = "LCPART01"

// Manifest describes a part: which shard of which run it holds.
type Manifest struct {
	Shard       int               `json:"shard"`        // index i
	Count       int               `json:"count"`        // number of shards N
	FirstChain  int               `json:"first_chain"`  // global index of its first chain
	Chains      int               `json:"chains"`       // chains it holds
	TotalChains int               `json:"total_chains"` // chains of the whole run
	Key         map[string]string `json:"key"`          // what defines the run; equal in all parts
	Summary     json.RawMessage   `json:"summary,omitempty"`
	Timing      json.RawMessage   `json:"timing,omitempty"`
	// Dir is the shard's working directory, against which relative input
	// paths in Key resolve.
	Dir string `json:"dir,omitempty"`
}

// Part is a manifest with its samples (Chains vectors of equal length).
type Part struct {
	Manifest
	Samples [][]float64
	Path    string // file it was read from (ReadPart)
}

// Encode returns the bytes of the part file.
func (p *Part) Encode() ([]byte, error) {
	if len(p.Samples) != p.Chains {
		return nil, fmt.Errorf("shard: part %d of %d: %d samples, manifest says %d", p.Shard, p.Count, len(p.Samples), p.Chains)
	}
	dim := 0
	if len(p.Samples) > 0 {
		dim = len(p.Samples[0])
	}
	mj, err := json.Marshal(p.Manifest)
	if err != nil {
		return nil, fmt.Errorf("shard: part manifest: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(magic) + 4 + len(mj) + 16 + 8*p.Chains*dim + sha256.Size)
	b.WriteString(magic)
	binary.Write(&b, binary.LittleEndian, uint32(len(mj)))
	b.Write(mj)
	binary.Write(&b, binary.LittleEndian, uint64(p.Chains))
	binary.Write(&b, binary.LittleEndian, uint64(dim))
	var w [8]byte
	for k, s := range p.Samples {
		if len(s) != dim {
			return nil, fmt.Errorf("shard: part %d of %d: sample %d has %d values, sample 0 %d", p.Shard, p.Count, k, len(s), dim)
		}
		for _, v := range s {
			binary.LittleEndian.PutUint64(w[:], math.Float64bits(v))
			b.Write(w[:])
		}
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes(), nil
}

// Decode parses a part file's bytes; name is used in errors.
func Decode(name string, data []byte) (*Part, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: not a valid part file: %s", name, fmt.Sprintf(format, a...))
	}
	if len(data) < len(magic)+4+16+sha256.Size || string(data[:len(magic)]) != magic {
		return nil, bad("no %s header", magic)
	}
	body, tail := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], tail) {
		return nil, bad("checksum mismatch (truncated or corrupted)")
	}
	r := body[len(magic):]
	ml := int(binary.LittleEndian.Uint32(r))
	r = r[4:]
	if ml > len(r)-16 {
		return nil, bad("manifest length %d exceeds the file", ml)
	}
	p := &Part{Path: name}
	if err := json.Unmarshal(r[:ml], &p.Manifest); err != nil {
		return nil, bad("manifest: %v", err)
	}
	r = r[ml:]
	n, dim := binary.LittleEndian.Uint64(r), binary.LittleEndian.Uint64(r[8:])
	r = r[16:]
	if n != uint64(p.Chains) || dim > 1<<32 || uint64(len(r)) != 8*n*dim {
		return nil, bad("%d samples of %d values in %d bytes, manifest says %d samples", n, dim, len(r), p.Chains)
	}
	p.Samples = make([][]float64, n)
	for k := range p.Samples {
		s := make([]float64, dim)
		for j := range s {
			s[j] = math.Float64frombits(binary.LittleEndian.Uint64(r))
			r = r[8:]
		}
		p.Samples[k] = s
	}
	return p, nil
}

// ReadPart reads and checks a part file.
func ReadPart(path string) (*Part, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(path, b)
}

// WritePart writes p to dir/PartName(p.Shard, p.Count) through a temporary
// file in dir and a rename, and returns the path.
func WritePart(dir string, p *Part) (string, error) {
	b, err := p.Encode()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, PartName(p.Shard, p.Count))
	return path, atomicfile.WriteFile(path, b)
}

// KeyDiff lists the entries in which two keys differ, as
// "name (a vs b)", sorted by name.
func KeyDiff(a, b map[string]string) []string {
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	var out []string
	for k := range names {
		va, oka := a[k]
		vb, okb := b[k]
		if oka != okb || va != vb {
			if d := jsonDiff(k, va, vb); d != nil {
				out = append(out, d...)
				continue
			}
			if !oka {
				va = "(absent)"
			}
			if !okb {
				vb = "(absent)"
			}
			out = append(out, fmt.Sprintf("%s (%s vs %s)", k, short(va), short(vb)))
		}
	}
	sort.Strings(out)
	return out
}

// jsonDiff lists the differing top-level fields of two JSON objects as
// "name.field (a vs b)"; nil if either is not a JSON object.
func jsonDiff(name, a, b string) []string {
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal([]byte(a), &ma) != nil || json.Unmarshal([]byte(b), &mb) != nil || ma == nil || mb == nil {
		return nil
	}
	fa, fb := map[string]string{}, map[string]string{}
	for k, v := range ma {
		fa[name+"."+k] = string(v)
	}
	for k, v := range mb {
		fb[name+"."+k] = string(v)
	}
	return KeyDiff(fa, fb)
}

func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "…"
	}
	return strconv.Quote(s)
}

var partRE = regexp.MustCompile(`^part-(\d{4})-of-(\d{4})\.lcpart$`)

// ErrNoParts is returned by Collect for a folder without part files.
var ErrNoParts = errors.New("no part files")

// Collect reads every part file of dir and checks that they are the N
// parts of one run: same key and shard count, each shard 0…N−1 exactly
// once, chains contiguous from 0 to the run's total. It returns them in
// shard order. Errors name the folder, the files and what differs.
func Collect(dir string) ([]*Part, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var parts []*Part
	for _, e := range ents {
		if !partRE.MatchString(e.Name()) {
			continue
		}
		p, err := ReadPart(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if e.Name() != PartName(p.Shard, p.Count) {
			return nil, fmt.Errorf("%s: holds shard %d of %d; it was renamed (a duplicated part?)", p.Path, p.Shard, p.Count)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: %w (part-IIII-of-NNNN.lcpart, written by lenscore sample --shard)", dir, ErrNoParts)
	}
	ref := parts[0]
	for _, p := range parts[1:] {
		if d := KeyDiff(ref.Key, p.Key); len(d) > 0 {
			return nil, fmt.Errorf("%s: parts of different runs: %s and %s differ in %s", dir, filepath.Base(ref.Path), filepath.Base(p.Path), strings.Join(d, ", "))
		}
		if p.Count != ref.Count || p.TotalChains != ref.TotalChains {
			return nil, fmt.Errorf("%s: parts of different runs: %s is one of %d shards of %d samples, %s one of %d shards of %d samples",
				dir, filepath.Base(ref.Path), ref.Count, ref.TotalChains, filepath.Base(p.Path), p.Count, p.TotalChains)
		}
	}
	seen := make([]*Part, ref.Count)
	for _, p := range parts {
		seen[p.Shard] = p // names are unique in a folder and match the shard (checked above)
	}
	var missing []string
	for i, p := range seen {
		if p == nil {
			missing = append(missing, PartName(i, ref.Count))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %d of %d parts missing: %s (those shards have not finished)", dir, len(missing), ref.Count, strings.Join(missing, ", "))
	}
	next := 0
	for i, p := range seen {
		first, n, err := Spec{i, ref.Count}.Range(ref.TotalChains)
		if err != nil || p.FirstChain != first || p.Chains != n || first != next {
			return nil, fmt.Errorf("%s: holds chains %d…%d, shard %d of %d of %d samples should hold %d…%d",
				p.Path, p.FirstChain, p.FirstChain+p.Chains-1, i, ref.Count, ref.TotalChains, first, first+n-1)
		}
		next += n
		if len(p.Samples) > 0 && len(ref.Samples) > 0 && len(p.Samples[0]) != len(ref.Samples[0]) {
			return nil, fmt.Errorf("%s: samples of %d values, %s of %d", p.Path, len(p.Samples[0]), ref.Path, len(ref.Samples[0]))
		}
	}
	return seen, nil
}

// Samples concatenates the parts' samples in chain order.
func Samples(parts []*Part) [][]float64 {
	var out [][]float64
	for _, p := range parts {
		out = append(out, p.Samples...)
	}
	return slices.Clip(out)
}
