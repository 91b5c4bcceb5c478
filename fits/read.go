package fits

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// BlockSize is the FITS logical record length in bytes.
const BlockSize = 2880

// MaxDataBytes bounds the declared size of one HDU's data. Larger
// declarations are rejected before anything is allocated.
const MaxDataBytes = 1 << 36

// HDU is one header-data unit.
type HDU struct {
	Header Header
	// Shape holds NAXIS1 (fastest varying, columns), NAXIS2 (rows), NAXIS3…
	Shape []int
	// Data are physical values BZERO + BSCALE·stored, in file order:
	// Data[(k*ny+row)*nx+col]; row 0 is the first row in the file.
	Data []float64
	// Bitpix is the storage type: 8, 16, 32, 64, -32 or -64.
	Bitpix int
	// Name is EXTNAME ("" when absent).
	Name string
	// Extension is "" for the primary HDU, else the XTENSION value
	// ("IMAGE", "BINTABLE", "TABLE", …).
	Extension string
	// Skipped is true for HDUs that are not images (tables, random groups):
	// their Header is kept but Shape and Data are nil. Write refuses them.
	Skipped bool
}

// NewImage returns a 2-D image HDU (BITPIX -64) of nx columns and ny rows
// holding data (used as is, not copied); nil data allocates zeros.
func NewImage(nx, ny int, data []float64) *HDU {
	if data == nil && nx > 0 && ny > 0 {
		data = make([]float64, nx*ny)
	}
	return &HDU{Shape: []int{nx, ny}, Data: data, Bitpix: -64}
}

// NewCube returns a 3-D image HDU (BITPIX -64) of nz planes of ny rows of
// nx columns; nil data allocates zeros.
func NewCube(nx, ny, nz int, data []float64) *HDU {
	if data == nil && nx > 0 && ny > 0 && nz > 0 {
		data = make([]float64, nx*ny*nz)
	}
	return &HDU{Shape: []int{nx, ny, nz}, Data: data, Bitpix: -64}
}

// ByName returns the first HDU whose EXTNAME equals name, ignoring case and
// trailing blanks.
func ByName(hdus []*HDU, name string) (*HDU, bool) {
	name = strings.TrimRight(name, " ")
	for _, h := range hdus {
		if strings.EqualFold(strings.TrimRight(h.Name, " "), name) {
			return h, true
		}
	}
	return nil, false
}

// ReadFile reads every HDU of the named file. Errors name the path.
func ReadFile(path string) ([]*HDU, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fits: %w", err)
	}
	defer f.Close()
	hdus, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("fits: %s: %w", path, err)
	}
	return hdus, nil
}

// Read reads every HDU from r. Image HDUs get Shape and Data; other
// extensions are returned with their header only (Skipped).
func Read(r io.Reader) ([]*HDU, error) {
	hdus, err := read(r)
	if err != nil {
		return nil, fmt.Errorf("fits: %w", err)
	}
	return hdus, nil
}

// countingReader tracks the byte offset for error messages.
type countingReader struct {
	r   *bufio.Reader
	off int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.off += int64(n)
	return n, err
}

func read(r io.Reader) ([]*HDU, error) {
	cr := &countingReader{r: bufio.NewReaderSize(r, 1<<16)}
	var hdus []*HDU
	for i := 0; ; i++ {
		start := cr.off
		h, err := readHDU(cr, i)
		if err == io.EOF {
			if i == 0 {
				return nil, errors.New("empty input: no primary header")
			}
			return hdus, nil
		}
		if err != nil {
			return nil, fmt.Errorf("HDU %d (byte offset %d): %w", i, start, err)
		}
		hdus = append(hdus, h)
	}
}

// allBlank reports whether b holds only NUL or space bytes.
func allBlank(b []byte) bool {
	for _, c := range b {
		if c != 0 && c != ' ' {
			return false
		}
	}
	return true
}

// readHDU reads one header and its data. It returns io.EOF when the input
// ends cleanly before a new HDU (trailing blank or zero padding is ignored).
func readHDU(r *countingReader, index int) (*HDU, error) {
	block := make([]byte, BlockSize)
	var cards []Card
	for nblocks := 0; ; nblocks++ {
		n, err := io.ReadFull(r, block)
		if nblocks == 0 && index > 0 && (n == 0 || allBlank(block[:n])) {
			if n == 0 {
				return nil, io.EOF
			}
			// Trailing padding after the last HDU: accept only if it is blank.
			rest, rerr := io.ReadAll(r)
			if rerr != nil {
				return nil, rerr
			}
			if !allBlank(rest) {
				return nil, errors.New("non-blank bytes after a blank block where an XTENSION header was expected")
			}
			return nil, io.EOF
		}
		if n == 0 && nblocks == 0 {
			return nil, io.EOF
		}
		if nblocks == 0 {
			want := "SIMPLE  "
			if index > 0 {
				want = "XTENSION"
			}
			if got := block[:min(n, 8)]; string(got) != want[:len(got)] || n >= 8 && string(got) != want {
				return nil, fmt.Errorf("header must start with %s, found %q", strings.TrimSpace(want), printable(got))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("truncated header: input ends after %d header bytes without an END card", nblocks*BlockSize+n)
		}
		for k := 0; k < BlockSize; k += cardLen {
			raw := block[k : k+cardLen]
			if string(raw[:8]) == "END     " {
				if !allBlank(raw[8:]) {
					return nil, errors.New("END card has non-blank text after the keyword")
				}
				return finishHDU(r, cards, index)
			}
			c, err := parseCard(string(raw))
			if err != nil {
				return nil, fmt.Errorf("header card %d: bad card: %v", len(cards)+1, err)
			}
			cards = append(cards, c)
		}
	}
}

// printable quotes b with non-ASCII bytes escaped.
func printable(b []byte) string {
	return strings.Trim(fmt.Sprintf("%+q", string(b)), `"`)
}

// finishHDU interprets the structural keywords and reads or skips the data.
func finishHDU(r *countingReader, cards []Card, index int) (*HDU, error) {
	h := &HDU{Header: Header{Cards: cards}}
	hd := h.Header
	if index == 0 {
		simple, _, err := hd.Bool("SIMPLE")
		if err != nil {
			return nil, err
		}
		if !simple {
			return nil, errors.New("SIMPLE = F: file does not declare conformance to the FITS standard")
		}
	} else {
		x, _, err := hd.String("XTENSION")
		if err != nil {
			return nil, err
		}
		h.Extension = strings.TrimRight(x, " ")
	}
	bitpix, ok, err := hd.Int("BITPIX")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("missing BITPIX keyword")
	}
	switch bitpix {
	case 8, 16, 32, 64, -32, -64:
	default:
		return nil, fmt.Errorf("unsupported BITPIX %d (want 8, 16, 32, 64, -32 or -64)", bitpix)
	}
	h.Bitpix = int(bitpix)
	naxis, ok, err := hd.Int("NAXIS")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("missing NAXIS keyword")
	}
	if naxis < 0 || naxis > 999 {
		return nil, fmt.Errorf("NAXIS = %d out of range 0..999", naxis)
	}
	shape := make([]int, naxis)
	for k := range shape {
		key := fmt.Sprintf("NAXIS%d", k+1)
		v, ok, err := hd.Int(key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("NAXIS = %d but %s is missing", naxis, key)
		}
		if v < 0 {
			return nil, fmt.Errorf("%s = %d is negative", key, v)
		}
		if v > MaxDataBytes {
			return nil, fmt.Errorf("%s = %d is absurdly large", key, v)
		}
		shape[k] = int(v)
	}
	pcount, gcount := int64(0), int64(1)
	groups := false
	if index == 0 {
		g, _, _ := hd.Bool("GROUPS")
		groups = g && naxis > 0 && shape[0] == 0
	}
	if index > 0 || groups {
		if pcount, ok, err = hd.Int("PCOUNT"); err != nil {
			return nil, err
		} else if !ok {
			pcount = 0
			if index > 0 {
				return nil, errors.New("extension header lacks PCOUNT")
			}
		}
		if gcount, ok, err = hd.Int("GCOUNT"); err != nil {
			return nil, err
		} else if !ok {
			gcount = 1
			if index > 0 {
				return nil, errors.New("extension header lacks GCOUNT")
			}
		}
		if pcount < 0 || gcount < 0 || pcount > MaxDataBytes || gcount > MaxDataBytes {
			return nil, fmt.Errorf("PCOUNT = %d, GCOUNT = %d out of range", pcount, gcount)
		}
	}
	// Data size = |BITPIX|/8 · GCOUNT · (PCOUNT + Π NAXISn), with NAXIS1 = 0
	// left out of the product for random groups.
	elems := int64(1)
	if naxis == 0 {
		elems = 0
	}
	for k, n := range shape {
		if groups && k == 0 {
			continue
		}
		if n != 0 && elems > MaxDataBytes/int64(n) {
			return nil, fmt.Errorf("declared data size %v exceeds limit %d bytes", shape, int64(MaxDataBytes))
		}
		elems *= int64(n)
	}
	elemSize := int64(abs(h.Bitpix) / 8)
	total := pcount + elems
	if total > MaxDataBytes || (gcount != 0 && total*elemSize > MaxDataBytes/gcount) {
		return nil, fmt.Errorf("declared data size exceeds limit %d bytes", int64(MaxDataBytes))
	}
	nbytes := elemSize * gcount * total

	image := !groups && (index == 0 || h.Extension == "IMAGE")
	if !image {
		h.Skipped = true
		if err := skip(r, nbytes); err != nil {
			return nil, err
		}
		return h, nil
	}
	if index > 0 && (pcount != 0 || gcount != 1) {
		return nil, fmt.Errorf("IMAGE extension with PCOUNT = %d, GCOUNT = %d (want 0 and 1)", pcount, gcount)
	}
	if c, ok := hd.Get("EXTNAME"); ok {
		if name, isStr := c.Value.(string); isStr {
			h.Name = name
		}
	}
	h.Shape = shape
	if nbytes == 0 {
		return h, nil
	}
	raw, err := readData(r, nbytes)
	if err != nil {
		return nil, err
	}
	if err := skipPadding(r, nbytes); err != nil {
		return nil, err
	}
	h.Data, err = decode(raw, h.Bitpix, hd)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// readData reads exactly n bytes. Memory grows with the bytes actually
// received, so a tiny input declaring a huge array fails fast and cheaply.
func readData(r io.Reader, n int64) ([]byte, error) {
	const direct = 1 << 20
	if n <= direct {
		buf := make([]byte, n)
		got, err := io.ReadFull(r, buf)
		if err != nil {
			return nil, fmt.Errorf("truncated data: header declares %d bytes, input holds %d", n, got)
		}
		return buf, nil
	}
	var b bytes.Buffer
	got, err := b.ReadFrom(io.LimitReader(r, n))
	if err != nil {
		return nil, err
	}
	if got != n {
		return nil, fmt.Errorf("truncated data: header declares %d bytes, input holds %d", n, got)
	}
	return b.Bytes(), nil
}

// skip discards n data bytes and the padding after them.
func skip(r io.Reader, n int64) error {
	got, err := io.CopyN(io.Discard, r, n)
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("truncated data: header declares %d bytes, input holds %d", n, got)
		}
		return err
	}
	return skipPadding(r, n)
}

// skipPadding discards the fill up to the next block boundary. A file that
// ends inside the fill is accepted (some writers omit the last padding).
func skipPadding(r io.Reader, n int64) error {
	p := (BlockSize - n%BlockSize) % BlockSize
	_, err := io.CopyN(io.Discard, r, p)
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

// scaling returns BSCALE and BZERO (defaults 1 and 0).
func scaling(hd Header) (bscale, bzero float64, err error) {
	bscale, ok, err := hd.Float("BSCALE")
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		bscale = 1
	}
	bzero, ok, err = hd.Float("BZERO")
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		bzero = 0
	}
	if bscale == 0 || math.IsNaN(bscale) || math.IsInf(bscale, 0) || math.IsNaN(bzero) || math.IsInf(bzero, 0) {
		return 0, 0, fmt.Errorf("invalid scaling BSCALE = %v, BZERO = %v", bscale, bzero)
	}
	return bscale, bzero, nil
}

// decode converts big-endian stored values into physical float64 values.
func decode(raw []byte, bitpix int, hd Header) ([]float64, error) {
	bscale, bzero, err := scaling(hd)
	if err != nil {
		return nil, err
	}
	blank, hasBlank := int64(0), false
	if bitpix > 0 {
		if b, ok, err := hd.Int("BLANK"); err != nil {
			return nil, err
		} else if ok {
			if lo, hi := intRange(bitpix); float64(b) < lo || float64(b) > hi {
				return nil, fmt.Errorf("BLANK = %d out of range for BITPIX %d", b, bitpix)
			}
			blank, hasBlank = b, true
		}
	}
	n := len(raw) / (abs(bitpix) / 8)
	out := make([]float64, n)
	scaled := bscale != 1 || bzero != 0
	for i := range out {
		var v float64
		var s int64
		switch bitpix {
		case 8:
			s = int64(raw[i])
		case 16:
			s = int64(int16(binary.BigEndian.Uint16(raw[2*i:])))
		case 32:
			s = int64(int32(binary.BigEndian.Uint32(raw[4*i:])))
		case 64:
			s = int64(binary.BigEndian.Uint64(raw[8*i:]))
		case -32:
			v = float64(math.Float32frombits(binary.BigEndian.Uint32(raw[4*i:])))
		case -64:
			v = math.Float64frombits(binary.BigEndian.Uint64(raw[8*i:]))
		}
		if bitpix > 0 {
			if hasBlank && s == blank {
				out[i] = math.NaN()
				continue
			}
			v = float64(s)
		}
		if scaled {
			v = bzero + bscale*v
		}
		out[i] = v
	}
	return out, nil
}
