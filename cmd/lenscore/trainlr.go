package main

import (
	"flag"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/train"
)

// lrFlags are the learning-rate schedule flags of `lenscore train`.
type lrFlags struct {
	lr         *float64
	warmup     *int
	decay      *string
	start, end *int
	min        *float64
}

// lrFlagNames are the flags that change a resumed run's schedule.
var lrFlagNames = []string{"lr", "warmup", "lr-decay", "lr-decay-start", "lr-decay-end", "lr-min"}

func addLRFlags(fs *flag.FlagSet, def train.Config) lrFlags {
	return lrFlags{
		lr:     fs.Float64("lr", def.LR, "Adam learning rate η (after warm-up, before any decay)"),
		warmup: fs.Int("warmup", def.WarmupSteps, "learning-rate warm-up steps"),
		decay:  fs.String("lr-decay", "none", "learning-rate decay after --lr-decay-start: cosine, linear or none"),
		start: fs.Int("lr-decay-start", -1, "the last step at the full rate; the decay begins after it "+
			"(default: the end of warm-up; with --resume, the checkpoint's step)"),
		end: fs.Int("lr-decay-end", 0, "the step where the rate reaches --lr-min and stays (0: the total --steps)"),
		min: fs.Float64("lr-min", 0, "the rate at the end of the decay"),
	}
}

// schedule returns the schedule the flags ask for. A new run (resume
// false) starts from the defaults; a resumed run starts from base, the
// checkpoint's schedule, and changes only what a flag set explicitly
// (step is the checkpoint's step). changed reports whether any schedule
// flag was given.
func (f lrFlags) schedule(fs *flag.FlagSet, base train.LRSchedule, step int, resume bool) (s train.LRSchedule, changed bool, err error) {
	set := func(name string) bool { return isFlagSet(fs, name) }
	for _, n := range lrFlagNames {
		changed = changed || set(n)
	}
	s = base
	if !resume || set("lr") {
		s.LR = *f.lr
	}
	if !resume || set("warmup") {
		s.Warmup = *f.warmup
	}
	if !(s.LR > 0) || math.IsInf(s.LR, 0) {
		return s, changed, fmt.Errorf("--lr must be a positive number, got %g", s.LR)
	}
	if s.Warmup < 0 {
		return s, changed, fmt.Errorf("--warmup must be ≥ 0 steps, got %d", s.Warmup)
	}
	wasDecaying := resume && base.Decays()
	if !resume || set("lr-decay") {
		switch *f.decay {
		case "none", "":
			s.Decay = train.DecayNone
		case train.DecayCosine, train.DecayLinear:
			s.Decay = *f.decay
		default:
			return s, changed, fmt.Errorf("--lr-decay must be cosine, linear or none, got %q", *f.decay)
		}
	}
	if !s.Decays() {
		for _, n := range []string{"lr-decay-start", "lr-decay-end", "lr-min"} {
			if set(n) {
				return s, changed, fmt.Errorf("--%s needs --lr-decay cosine or linear", n)
			}
		}
		s.Start, s.End, s.Min = 0, 0, 0
		return s, changed, nil
	}
	switch {
	case set("lr-decay-start"):
		if *f.start < 0 {
			return s, changed, fmt.Errorf("--lr-decay-start must be a step ≥ 0, got %d", *f.start)
		}
		s.Start = *f.start
	case !wasDecaying && resume:
		s.Start = step
	case !wasDecaying:
		s.Start = s.Warmup
	}
	if set("lr-decay-end") || !wasDecaying {
		if *f.end < 0 {
			return s, changed, fmt.Errorf("--lr-decay-end must be a step > --lr-decay-start (0: the total --steps), got %d", *f.end)
		}
		s.End = *f.end
	}
	if set("lr-min") || !wasDecaying {
		s.Min = *f.min
	}
	if !(s.Min >= 0 && s.Min <= s.LR) {
		return s, changed, fmt.Errorf("--lr-min must be in [0, --lr = %g], got %g", s.LR, s.Min)
	}
	return s, changed, nil
}

// checkDecaySpan refuses a decay that would end at or before its start
// once End 0 is read as the total number of steps.
func checkDecaySpan(s train.LRSchedule, total int) error {
	if !s.Decays() {
		return nil
	}
	end := s.End
	if end == 0 {
		end = total
	}
	if end <= s.Start {
		return fmt.Errorf("--lr-decay-end (%d) must come after --lr-decay-start (%d)", end, s.Start)
	}
	return nil
}
