// Package progress prints a one-line progress report for long jobs: steps
// done out of the total, the rate in steps per second, the elapsed time and
// an estimate of the time remaining, plus free-form fields such as a loss.
//
// On a terminal the line is redrawn in place with a carriage return; when the
// output is not a terminal (a log file, CI) a full line is printed at most
// every Interval, so logs stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar reports progress of a job of Total steps. The zero value is not usable;
// use New.
type Bar struct {
	w        io.Writer
	label    string
	total    int
	start    time.Time
	startAt  int // steps already done when the bar started (resumed jobs)
	last     time.Time
	interval time.Duration
	tty      bool
	now      func() time.Time
}

// New returns a bar writing to w. done is the number of steps already
// completed (non-zero when a job resumes); the rate counts only new steps.
func New(w io.Writer, label string, done, total int) *Bar {
	b := &Bar{w: w, label: label, total: total, startAt: done, interval: 10 * time.Second, now: time.Now}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
			b.interval = 200 * time.Millisecond
		}
	}
	b.start = b.now()
	return b
}

// Line formats the report for step done with the given extra fields
// ("key=value" strings) without printing it.
func (b *Bar) Line(done int, fields ...string) string {
	el := b.now().Sub(b.start)
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(done-b.startAt) / s
	}
	eta := "?"
	if rate > 0 && done <= b.total {
		eta = FormatDuration(time.Duration(float64(b.total-done) / rate * float64(time.Second)))
	}
	pct := 0.0
	if b.total > 0 {
		pct = 100 * float64(done) / float64(b.total)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %d/%d (%.1f%%) %.3g steps/s elapsed %s eta %s", b.label, done, b.total, pct, rate, FormatDuration(el), eta)
	for _, f := range fields {
		sb.WriteByte(' ')
		sb.WriteString(f)
	}
	return sb.String()
}

// Update prints the report for step done if enough time has passed since the
// last one, or if the job is complete.
func (b *Bar) Update(done int, fields ...string) {
	if done < b.total && b.now().Sub(b.last) < b.interval {
		return
	}
	b.print(done, done >= b.total, fields)
}

// Force prints the report for step done now and ends the line, as when a
// job stops before its total (interrupted).
func (b *Bar) Force(done int, fields ...string) {
	b.print(done, true, fields)
}

func (b *Bar) print(done int, end bool, fields []string) {
	b.last = b.now()
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", b.Line(done, fields...))
		if end {
			fmt.Fprintln(b.w)
		}
		return
	}
	fmt.Fprintln(b.w, b.Line(done, fields...))
}

// FormatDuration renders d as h:mm:ss (or m:ss under an hour).
func FormatDuration(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 3600 {
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", s/3600, (s/60)%60, s%60)
}
