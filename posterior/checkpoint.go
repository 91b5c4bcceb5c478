package posterior

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"

	"github.com/lenscore/lenscore/atomicfile"
)

// ckptMagic opens every checkpoint file.
const ckptMagic = "LCPOST01"

// fingerprint lists every setting that determines the samples; a checkpoint
// can only be resumed with an identical fingerprint.
type fingerprint struct {
	Seed       uint64
	FirstChain uint64
	Chains     int
	Dim        int
	Steps      int
	Eps        float64
	SigmaMin   float64
	SigmaMax   float64
	Sampler    string
	Corrector  int
	SNR        float64
	Denoise    bool
	// PriorJacobian and JacobianBelow: Options' (zero in checkpoints
	// written before they existed, which is what runs without them have)
	PriorJacobian bool    `json:",omitempty"`
	JacobianBelow float64 `json:",omitempty"`
	InitMean      string
	Prior         string
	Likelihood    string
	Hooks         [2]float64
}

func describe(v any) string {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return "none"
	}
	if f, ok := v.(Fingerprinter); ok {
		return f.Fingerprint()
	}
	return fmt.Sprintf("%T", v)
}

func (s *sampler) fingerprint() fingerprint {
	var lik any
	if s.lik != nil {
		lik = s.lik
	}
	im := "zero"
	if s.opt.InitMean != nil {
		im = hashFloats(s.opt.InitMean)
	}
	return fingerprint{Seed: s.opt.Seed, FirstChain: s.opt.FirstChain, Chains: s.k, Dim: s.n, Steps: s.steps,
		Eps: s.opt.Eps, SigmaMin: s.ve.SigmaMin, SigmaMax: s.ve.SigmaMax, Sampler: s.opt.Sampler,
		Corrector: s.opt.Corrector, SNR: s.opt.SNR, Denoise: s.opt.Denoise, InitMean: im,
		PriorJacobian: s.opt.PriorJacobian, JacobianBelow: s.opt.JacobianBelow,
		Prior: describe(s.prior), Likelihood: describe(lik), Hooks: [2]float64{s.hooks.g2, s.hooks.noise}}
}

// save writes the checkpoint atomically (temporary file in the same
// directory, fsync, rename). Layout, little-endian:
//
//	"LCPOST01" | u32 len | fingerprint JSON | u64 step | u64 NFE | u64 K | u64 N |
//	K·N float64 states | K × (u32 len | PCG state) | SHA-256 of all preceding bytes
func (s *sampler) save(path string, step int) error {
	var b bytes.Buffer
	b.WriteString(ckptMagic)
	fp, err := json.Marshal(s.fingerprint())
	if err != nil {
		return fmt.Errorf("posterior: checkpoint %s: %w", path, err)
	}
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, uint32(len(fp))))
	b.Write(fp)
	for _, v := range []uint64{uint64(step), uint64(s.nfe), uint64(s.k), uint64(s.n)} {
		b.Write(le.AppendUint64(nil, v))
	}
	buf := make([]byte, 8*len(s.x))
	for i, v := range s.x {
		le.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	b.Write(buf)
	if s.prev != nil { // the multistep rule's previous Tweedie means
		for i, v := range s.prev {
			le.PutUint64(buf[8*i:], math.Float64bits(v))
		}
		b.Write(buf)
	}
	for c, p := range s.pcgs {
		st, err := p.MarshalBinary()
		if err != nil {
			return fmt.Errorf("posterior: checkpoint %s: chain %d RNG: %w", path, c, err)
		}
		b.Write(le.AppendUint32(nil, uint32(len(st))))
		b.Write(st)
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return writeAtomic(path, b.Bytes())
}

func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("posterior: checkpoint: %w", err)
	}
	return nil
}

// load restores chain states, RNGs and NFE; it returns the completed step.
func (s *sampler) load(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("posterior: resume: %w", err)
	}
	bad := func(what string) error { return fmt.Errorf("posterior: resume: checkpoint %s: %s", path, what) }
	if len(data) < len(ckptMagic)+4+32 || string(data[:len(ckptMagic)]) != ckptMagic {
		return 0, bad("not a lenscore posterior checkpoint (bad magic)")
	}
	body, sum := data[:len(data)-32], data[len(data)-32:]
	if h := sha256.Sum256(body); !bytes.Equal(h[:], sum) {
		return 0, bad("checksum mismatch (truncated or corrupted file)")
	}
	le := binary.LittleEndian
	p := body[len(ckptMagic):]
	need := func(n int) ([]byte, error) {
		if len(p) < n {
			return nil, bad("truncated")
		}
		out := p[:n]
		p = p[n:]
		return out, nil
	}
	lb, err := need(4)
	if err != nil {
		return 0, err
	}
	fpb, err := need(int(le.Uint32(lb)))
	if err != nil {
		return 0, err
	}
	var got fingerprint
	if err := json.Unmarshal(fpb, &got); err != nil {
		return 0, bad("fingerprint: " + err.Error())
	}
	if err := compareFingerprints(got, s.fingerprint()); err != nil {
		return 0, fmt.Errorf("posterior: resume: checkpoint %s was written with different settings: %w", path, err)
	}
	hdr, err := need(32)
	if err != nil {
		return 0, err
	}
	step, nfe := int(le.Uint64(hdr)), int(le.Uint64(hdr[8:]))
	if k, n := int(le.Uint64(hdr[16:])), int(le.Uint64(hdr[24:])); k != s.k || n != s.n || step < 0 || step > s.steps {
		return 0, bad(fmt.Sprintf("header chains=%d dim=%d step=%d inconsistent with run (%d, %d, %d steps)", k, n, step, s.k, s.n, s.steps))
	}
	xs, err := need(8 * len(s.x))
	if err != nil {
		return 0, err
	}
	for i := range s.x {
		s.x[i] = math.Float64frombits(le.Uint64(xs[8*i:]))
	}
	if s.prev != nil {
		ps, err := need(8 * len(s.prev))
		if err != nil {
			return 0, err
		}
		for i := range s.prev {
			s.prev[i] = math.Float64frombits(le.Uint64(ps[8*i:]))
		}
	}
	for c, pc := range s.pcgs {
		lb, err := need(4)
		if err != nil {
			return 0, err
		}
		st, err := need(int(le.Uint32(lb)))
		if err != nil {
			return 0, err
		}
		if err := pc.UnmarshalBinary(st); err != nil {
			return 0, bad(fmt.Sprintf("chain %d RNG: %v", c, err))
		}
	}
	if len(p) != 0 {
		return 0, bad("trailing bytes")
	}
	s.nfe = nfe
	s.vjp = s.vjpsBefore(step)
	return step, nil
}

func compareFingerprints(got, want fingerprint) error {
	var errs []error
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			errs = append(errs, fmt.Errorf("%s: checkpoint has %v, this run has %v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface()))
		}
	}
	return errors.Join(errs...)
}
