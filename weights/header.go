package weights

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// DecodeHeader is ReadHeader on an in-memory file: the metadata and the
// tensor shapes (by name) after validating the header against len(b).
func DecodeHeader(b []byte) (map[string]string, map[string][]int, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("file too short for the 8-byte header length (%d bytes)", len(b))
	}
	hl, err := checkHeaderLen(binary.LittleEndian.Uint64(b), int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	meta, tensors, err := parseHeader(b[8 : 8+hl])
	if err != nil {
		return nil, nil, err
	}
	if err := checkOffsets(tensors, int64(len(b)-8-hl)); err != nil {
		return nil, nil, err
	}
	shapes := make(map[string][]int, len(tensors))
	for name, ti := range tensors {
		shapes[name] = slices.Clone(ti.Shape)
	}
	return meta, shapes, nil
}
