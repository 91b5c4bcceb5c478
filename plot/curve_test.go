package plot

import "testing"

func TestWrapTitle(t *testing.T) {
	short := "loss — run"
	if got := wrapTitle(short); got != short {
		t.Errorf("short title changed: %q", got)
	}
	long := "RMSE of the posterior mean vs cost — network(models/prior64/model.safetensors, step 3581), 3 lenses"
	if got, want := wrapTitle(long), "RMSE of the posterior mean vs cost\nnetwork(models/prior64/model.safetensors, step 3581), 3 lenses"; got != want {
		t.Errorf("wrapTitle = %q, want %q", got, want)
	}
}
