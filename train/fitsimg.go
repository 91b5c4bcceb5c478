package train

import (
	"fmt"
	"path/filepath"

	"github.com/lenscore/lenscore/fits"
)

// readFITSImages returns every 2-D image HDU of a FITS file and every plane
// of each 3-D cube (trailing axes of length 1 are ignored). Table HDUs and
// data-less HDUs are passed over. FITS row 0 is already the bottom row, so
// no flip is applied. Names are "<file>[<hdu>]" or "<file>[<hdu>,<plane>]".
func readFITSImages(path string) ([]rawImage, error) {
	hdus, err := fits.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	base := filepath.Base(path)
	var out []rawImage
	for i, h := range hdus {
		if h.Skipped || len(h.Shape) < 2 {
			continue
		}
		shape := h.Shape
		for len(shape) > 2 && shape[len(shape)-1] == 1 {
			shape = shape[:len(shape)-1]
		}
		if len(shape) > 3 {
			return nil, fmt.Errorf("train: %s HDU %d has %d axes, want an image or a cube", path, i, len(shape))
		}
		nx, ny, nz := shape[0], shape[1], 1
		if len(shape) == 3 {
			nz = shape[2]
		}
		if nx < 1 || ny < 1 || len(h.Data) != nx*ny*nz {
			continue
		}
		for k := range nz {
			name := fmt.Sprintf("%s[%d]", base, i)
			if len(shape) == 3 {
				name = fmt.Sprintf("%s[%d,%d]", base, i, k)
			}
			out = append(out, rawImage{name: name, pix: h.Data[k*nx*ny : (k+1)*nx*ny], w: nx, h: ny})
		}
	}
	return out, nil
}
