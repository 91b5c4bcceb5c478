package train

import "fmt"

// readFITSImages will read every 2-D image and every plane of each 3-D cube
// of a FITS file once package fits is available.
func readFITSImages(path string) ([]rawImage, error) {
	return nil, fmt.Errorf("train: %s: FITS input is not supported yet", path)
}
