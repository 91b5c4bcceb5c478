package experiment

import "testing"

// TestPreparedNote: the note recorded with the truths names both choices.
func TestPreparedNote(t *testing.T) {
	for _, c := range []struct {
		stars bool
		sky   string
		want  string
	}{{false, "clipped", "stars kept"}, {true, "", "stars removed"}, {true, "kept", "stars removed, sky kept"},
		{false, "kept", "stars kept, sky kept"}, {true, "denoised", "stars removed, sky denoised"}} {
		if got := PreparedNote(c.stars, c.sky); got != c.want {
			t.Errorf("PreparedNote(%v, %q) = %q, want %q", c.stars, c.sky, got, c.want)
		}
	}
}
