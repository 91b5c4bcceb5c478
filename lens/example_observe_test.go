package lens_test

import (
	"fmt"
	"math"

	"github.com/lenscore/lenscore/lens"
)

// An analytic Sérsic source seen through a singular isothermal sphere,
// imaged at the ray-traced positions without pixelising the source. A
// source centred behind the lens forms an Einstein ring of radius θ_E:
// along the row through the centre the image is brightest one Einstein
// radius from the lens.
func ExampleObserveLight() {
	mass := lens.SIS{ThetaE: 1}
	src := lens.Sersic{Amp: 1, RSersic: 0.1, NSersic: 1, Q: 1}
	g := lens.Grid{N: 41, Scale: 0.1}
	img, err := lens.ObserveLight(mass, src, lens.Config{Obs: g, Supersample: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	row := img[20*g.N : 21*g.N] // y = 0
	best := 0
	for c, v := range row {
		if v > row[best] {
			best = c
		}
	}
	fmt.Printf("brightest pixel of the row y = 0 at |x| = %.1f″\n", math.Abs(g.Coord(best)))
	// Output:
	// brightest pixel of the row y = 0 at |x| = 1.0″
}
