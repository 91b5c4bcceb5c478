package nn

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	var worst float64
	for x := -87.0; x <= 87; x += 0.0137 {
		got := float64(expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 5e-7 {
		t.Errorf("expf relative error %g", worst)
	}
	if expf(-200) <= 0 || expf(-200) > 1e-37 || math.IsInf(float64(expf(200)), 0) {
		t.Errorf("expf clamping: expf(-200)=%g expf(200)=%g", expf(-200), expf(200))
	}
}
