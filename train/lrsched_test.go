package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/weights"
)

// TestLRScheduleValues: the schedule's rates at chosen steps against the
// formulas evaluated by hand, and a schedule without decay equals the
// warmed-up constant of LearningRate bit for bit.
func TestLRScheduleValues(t *testing.T) {
	const eta, etaMin = 2e-4, 2e-6
	cos := LRSchedule{LR: eta, Warmup: 200, Decay: DecayCosine, Start: 1000, End: 3000, Min: etaMin}
	lin := cos
	lin.Decay = DecayLinear
	early := LRSchedule{LR: eta, Warmup: 200, Decay: DecayCosine, Start: 0, End: 3000, Min: etaMin}
	for _, c := range []struct {
		s    LRSchedule
		step int
		want float64
	}{
		{cos, 100, eta / 2},  // warm-up, before the decay
		{cos, 1000, eta},     // the last update at η
		{cos, 2000, 1.01e-4}, // u = 1/2: η_min + (η−η_min)/2
		{cos, 1500, etaMin + (eta-etaMin)*(2+math.Sqrt2)/4}, // u = 1/4: (1+cos π/4)/2
		{cos, 3000, etaMin},  // the end
		{cos, 90000, etaMin}, // after the end
		{lin, 2000, 1.01e-4}, // u = 1/2
		{lin, 2500, 5.15e-5}, // u = 3/4: η_min + (η−η_min)/4
		{lin, 3000, etaMin},
		{early, 100, 0.5 * (etaMin + (eta-etaMin)*(1+math.Cos(math.Pi/30))/2)}, // warm-up × decay
	} {
		if got := c.s.At(c.step); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%v at step %d: %.10g, want %.10g", c.s, c.step, got, c.want)
		}
	}
	none := LRSchedule{LR: 3e-4, Warmup: 700}
	for _, s := range []int{1, 7, 699, 700, 701, 100000} {
		if got, want := none.At(s), LearningRate(3e-4, 700, s); got != want {
			t.Errorf("constant schedule at %d: %v, LearningRate %v", s, got, want)
		}
	}
	if got := cos.String(); got != "cosine 0.0002 → 2e-06 over steps 1000–3000, warm-up 200 steps" {
		t.Errorf("String: %q", got)
	}
	for _, c := range []struct {
		s    LRSchedule
		want string
	}{
		{LRSchedule{LR: 1, Decay: "exp"}, `LRDecay has unusable value "exp"`},
		{LRSchedule{LR: 1, Min: 0.1}, "need a decay"},
		{LRSchedule{LR: 1, Decay: DecayCosine, Start: 50, End: 50}, "ends at step 50, not after its start 50"},
		{LRSchedule{LR: 1, Decay: DecayCosine, Start: 200}, "ends at step 100, not after its start 200"}, // End 0: the total
		{LRSchedule{LR: 1, Decay: DecayLinear, End: 10, Min: 2}, "LRMin has unusable value 2"},
		{LRSchedule{LR: 1, Decay: DecayLinear, Start: -1, End: 10}, "LRDecayStart"},
	} {
		if err := c.s.Validate(100); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error containing %q", c.s, err, c.want)
		}
	}
}

func cosineConfig(dir string, start, end int) Config {
	c := testConfig(dir)
	c.LRDecay, c.LRDecayStart, c.LRDecayEnd, c.LRMin = DecayCosine, start, end, 1e-3
	return c
}

// TestResumeWithSchedule: a run with a cosine decay, cancelled at step 13
// and resumed without changes, ends with the bits and the log (lr column
// included) of an uninterrupted run, whose lr column follows the formula;
// the decay's end defaults to the total and is stored.
func TestResumeWithSchedule(t *testing.T) {
	data := blobData(12, 6)
	n := data.Size * data.Size
	dirA := t.TempDir()
	a, err := New(cosineConfig(dirA, 8, 0), newLinModel(n, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	if a.Config().LRDecayEnd != 30 {
		t.Fatalf("decay end %d, want the total 30", a.Config().LRDecayEnd)
	}
	if err := a.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	want := logLines(t, dirA)
	sch := LRSchedule{LR: 1e-2, Warmup: 5, Decay: DecayCosine, Start: 8, End: 30, Min: 1e-3}
	for _, e := range want {
		if math.Abs(e.LR-sch.At(e.Step)) > 1e-17 {
			t.Errorf("log step %d: lr %g, schedule %g", e.Step, e.LR, sch.At(e.Step))
		}
	}
	if last := want[len(want)-1]; last.Step != 30 || last.LR != 1e-3 {
		t.Errorf("last log line: step %d lr %g, want 30 and η_min 1e-3", last.Step, last.LR)
	}

	dirB := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := New(cosineConfig(dirB, 8, 0), newLinModel(n, 4), data)
	b.onStep = func(s int) {
		if s == 13 {
			cancel()
		}
	}
	if err := b.Run(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if err := Resume(context.Background(), dirB, 0, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	rb, err := Open(dirB, newLinModel(n, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(snap(rb)) != fmt.Sprint(snap(a)) {
		t.Fatal("cancel at 13 + resume with a cosine schedule differs from the uninterrupted run")
	}
	sameLog(t, "cosine, cancel at 13 + resume", logLines(t, dirB), want)
	if len(rb.LRChanges()) != 0 {
		t.Errorf("a resume without changes recorded %v", rb.LRChanges())
	}
	meta, err := weights.ReadMeta(filepath.Join(dirB, EMAFile))
	if err != nil || meta[MetaLRSchedule] != sch.String() || meta[MetaLRChanges] != "" {
		t.Errorf("model metadata lr_schedule %q lr_changes %q (%v), want %q and none", meta[MetaLRSchedule], meta[MetaLRChanges], err, sch.String())
	}
}

// TestChangeScheduleOnResume: a constant-rate run stopped at step 10 and
// resumed with a cosine decay that starts at step 10 ends with exactly the
// bits of a run that had that decay from the start (the two schedules
// agree up to step 10); the change is recorded in ckpt.json and the model
// with its step, and the log's lr column switches after step 10. A
// schedule that would have differed earlier takes effect only from the
// step of the change.
func TestChangeScheduleOnResume(t *testing.T) {
	data := blobData(12, 6)
	n := data.Size * data.Size
	sched := LRSchedule{LR: 1e-2, Warmup: 5, Decay: DecayCosine, Start: 10, End: 25, Min: 1e-3}
	dirA := t.TempDir()
	a, _ := New(cosineConfig(dirA, 10, 25), newLinModel(n, 4), data)
	if err := a.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}

	stopAt10 := func() string {
		dir := t.TempDir()
		cfg := testConfig(dir)
		cfg.Steps = 10
		if err := Run(context.Background(), cfg, newLinModel(n, 4), data, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dirB := stopAt10()
	b, err := Open(dirB, newLinModel(n, 4), data)
	if err != nil {
		t.Fatal(err)
	}
	b.SetSteps(30)
	same := b.Config().Schedule()
	if ch, err := b.ChangeSchedule(same); ch != nil || err != nil {
		t.Errorf("re-setting the same schedule: %+v, %v", ch, err)
	}
	ch, err := b.ChangeSchedule(sched)
	if err != nil {
		t.Fatal(err)
	}
	if ch == nil || ch.Step != 10 || ch.LRWas != 1e-2 || ch.LRNext != sched.At(11) || ch.To != sched.String() || ch.From != same.String() {
		t.Fatalf("change: %+v", ch)
	}
	if err := b.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(snap(b)) != fmt.Sprint(snap(a)) {
		t.Fatal("constant to step 10, then cosine from 10: differs from the run with that cosine from the start")
	}
	after := func(es []logEntry) (out []logEntry) {
		for _, e := range es {
			if e.Step > 10 {
				out = append(out, e)
			} else if e.LR != LearningRate(1e-2, 5, e.Step) {
				t.Errorf("step %d, before the change: lr %g", e.Step, e.LR)
			}
		}
		return out
	}
	// The stop at step 10 wrote a final line there, so the next line's
	// mean loss covers fewer steps; the lr and gradient norms agree.
	lb, la := after(logLines(t, dirB)), after(logLines(t, dirA))
	if len(la) < 5 {
		t.Fatalf("%d log lines after step 10", len(la))
	}
	lb[0].Loss = la[0].Loss
	sameLog(t, "schedule changed at step 10", lb, la)
	man, err := ReadManifest(dirB)
	if err != nil || len(man.LRChanges) != 1 || man.LRChanges[0] != *ch || man.Config.Schedule() != sched {
		t.Fatalf("manifest: changes %+v schedule %+v (%v)", man.LRChanges, man.Config.Schedule(), err)
	}
	meta, _ := weights.ReadMeta(filepath.Join(dirB, EMAFile))
	var got []LRChange
	if err := json.Unmarshal([]byte(meta[MetaLRChanges]), &got); err != nil || len(got) != 1 || got[0] != *ch {
		t.Errorf("model metadata lr_changes %q: %v", meta[MetaLRChanges], err)
	}
	// The record survives a further resume.
	if err := Resume(context.Background(), dirB, 32, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	if man, _ := ReadManifest(dirB); len(man.LRChanges) != 1 {
		t.Errorf("after a second resume: changes %+v", man.LRChanges)
	}

	// A decay from step 5 chosen at step 10 starts at step 11 from where
	// that schedule then is; updates 6–10 kept the constant rate.
	dirC := stopAt10()
	c, _ := Open(dirC, newLinModel(n, 4), data)
	c.SetSteps(30)
	late := LRSchedule{LR: 1e-2, Warmup: 5, Decay: DecayLinear, Start: 5, End: 0, Min: 0}
	if _, err := c.ChangeSchedule(late); err != nil {
		t.Fatal(err)
	}
	late.End = 30
	if err := c.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, e := range logLines(t, dirC) {
		want := late.At(e.Step)
		if e.Step <= 10 {
			want = LearningRate(1e-2, 5, e.Step)
		}
		if e.LR != want {
			t.Errorf("step %d: lr %g, want %g", e.Step, e.LR, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dirC, ManifestFile)); err != nil {
		t.Fatal(err)
	}
}
