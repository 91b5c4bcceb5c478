package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLineRateAndETA(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(1000, 0)
	b := New(&buf, "sample", 100, 1100)
	b.now = func() time.Time { return clock }
	b.start = clock
	clock = clock.Add(50 * time.Second) // 100 new steps in 50 s => 2 steps/s
	got := b.Line(200, "loss=0.5")
	for _, want := range []string{"sample 200/1100", "(18.2%)", "2 steps/s", "elapsed 0:50", "eta 7:30", "loss=0.5"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
}

func TestUpdateThrottlesButAlwaysPrintsEnd(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	b := New(&buf, "x", 0, 10)
	b.now = func() time.Time { return clock }
	b.start = clock
	b.Update(1) // first call prints (last is zero time)
	clock = clock.Add(time.Second)
	b.Update(2) // within the 10 s interval: suppressed
	b.Update(10)
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("printed %d lines, want 2:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "x 10/10") {
		t.Errorf("final line missing: %q", buf.String())
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{59 * time.Second: "0:59", 61 * time.Second: "1:01", 3723 * time.Second: "1:02:03"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
