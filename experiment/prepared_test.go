package experiment

import "testing"

// TestPreparedNote: the note recorded with the truths names both choices.
func TestPreparedNote(t *testing.T) {
	for _, c := range []struct {
		stars, sky bool
		want       string
	}{{false, false, "stars kept"}, {true, false, "stars removed"}, {true, true, "stars removed, sky kept"}, {false, true, "stars kept, sky kept"}} {
		if got := PreparedNote(c.stars, c.sky); got != c.want {
			t.Errorf("PreparedNote(%v, %v) = %q, want %q", c.stars, c.sky, got, c.want)
		}
	}
}
