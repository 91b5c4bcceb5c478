package observation_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/observation"
)

// Example writes a small observation with a noise map, a mask and a PSF,
// reads it back and builds the lens operator from it.
func Example() {
	dir, _ := os.MkdirTemp("", "obs")
	defer os.RemoveAll(dir)
	n := 8
	o := &observation.Observation{NPix: n, Image: make([]float64, n*n), PixelScale: 0.1, SrcNPix: 4, SrcScale: 0.1, Supersample: 2,
		NoiseMap: make([]float64, n*n), Keep: make([]bool, n*n), Unit: "electron/s"}
	for i := range o.Image {
		o.Image[i] = float64(i%n) * 0.01
		o.NoiseMap[i] = 0.02
		o.Keep[i] = i >= n // the first row is excluded
	}
	o.PSF, _ = lens.GaussianPSF(0.15, o.PixelScale, 0)
	path := filepath.Join(dir, "obs.fits")
	if err := o.Write(path); err != nil {
		fmt.Println(err)
		return
	}
	r, err := observation.Read(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	op, err := lens.NewOperator(lens.Composite{lens.SIS{ThetaE: 0.3}}, r.Config())
	if err != nil {
		fmt.Println(err)
		return
	}
	m, k := op.Dims()
	fmt.Printf("%d×%d at %g″ in %s, %d pixels used, PSF %d×%d, A is %d×%d\n", r.NPix, r.NPix, r.PixelScale, r.Unit, r.KeptPixels(), r.PSF.Rows, r.PSF.Cols, m, k)
	// Output: 8×8 at 0.1″ in electron/s, 56 pixels used, PSF 9×9, A is 64×16
}
