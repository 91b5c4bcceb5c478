package train

import (
	"fmt"
	"math"
)

// Learning-rate decay shapes (Config.LRDecay).
const (
	DecayNone   = ""       // constant after warm-up (also spelt "none" on the command line)
	DecayCosine = "cosine" // η_min + (η − η_min)(1 + cos πu)/2
	DecayLinear = "linear" // η_min + (η − η_min)(1 − u)
)

// MetaLRSchedule and MetaLRChanges are the model-metadata keys under which
// ema.safetensors records the learning-rate schedule (LRSchedule.String)
// and, when it was changed on resume, the changes (JSON list of LRChange).
const (
	MetaLRSchedule = "lr_schedule"
	MetaLRChanges  = "lr_changes"
)

// LRSchedule is the learning rate as a function of the 1-based update
// step s:
//
//	η_s = w_s · d_s,   w_s = min(1, s/W)
//	d_s = η                                  for s ≤ S or no decay
//	d_s = η_min + (η − η_min) c(u),  u = min(1, (s − S)/(E − S))   for s > S
//
// with c(u) = (1 + cos πu)/2 (cosine) or 1 − u (linear): the rate leaves η
// after update S and reaches η_min at update E, where it stays. Without
// decay it is the warmed-up constant of earlier versions, bit for bit.
type LRSchedule struct {
	LR     float64 // η
	Warmup int     // W (0: none)
	Decay  string  // DecayNone, DecayCosine or DecayLinear
	Start  int     // S: the last update at η
	End    int     // E: the first update at η_min (0: Config.Steps)
	Min    float64 // η_min
}

// Schedule returns the configuration's learning-rate schedule.
func (c Config) Schedule() LRSchedule {
	return LRSchedule{LR: c.LR, Warmup: c.WarmupSteps, Decay: c.LRDecay, Start: c.LRDecayStart, End: c.LRDecayEnd, Min: c.LRMin}
}

// SetSchedule replaces the configuration's learning-rate fields.
func (c *Config) SetSchedule(s LRSchedule) {
	c.LR, c.WarmupSteps, c.LRDecay, c.LRDecayStart, c.LRDecayEnd, c.LRMin = s.LR, s.Warmup, s.Decay, s.Start, s.End, s.Min
}

// Decays reports whether the schedule decays after its start.
func (s LRSchedule) Decays() bool { return s.Decay == DecayCosine || s.Decay == DecayLinear }

// Validate reports the first unusable field; steps is the run's total
// (the decay's end when End is 0).
func (s LRSchedule) Validate(steps int) error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("train: config field %s has unusable value %v: %s", field, v, why)
	}
	switch {
	case !(s.LR > 0) || math.IsInf(s.LR, 0):
		return bad("LR", s.LR, "the learning rate must be a positive number")
	case s.Warmup < 0:
		return bad("WarmupSteps", s.Warmup, "must be ≥ 0")
	case s.Decay != DecayNone && !s.Decays():
		return bad("LRDecay", fmt.Sprintf("%q", s.Decay), `want "cosine", "linear" or "" (none)`)
	case !s.Decays() && (s.Start != 0 || s.End != 0 || s.Min != 0):
		return fmt.Errorf("train: config fields LRDecayStart, LRDecayEnd and LRMin (%d, %d, %g) need a decay (LRDecay cosine or linear)", s.Start, s.End, s.Min)
	case s.Start < 0:
		return bad("LRDecayStart", s.Start, "must be ≥ 0")
	case s.Decays() && s.end(steps) <= s.Start:
		return fmt.Errorf("train: the learning-rate decay ends at step %d, not after its start %d", s.end(steps), s.Start)
	case !(s.Min >= 0 && s.Min <= s.LR):
		return bad("LRMin", s.Min, fmt.Sprintf("must be in [0, LR = %g]", s.LR))
	}
	return nil
}

func (s LRSchedule) end(steps int) int {
	if s.End == 0 {
		return steps
	}
	return s.End
}

// At returns η_s for the 1-based update step s (End must be set, or
// Decay none).
func (s LRSchedule) At(step int) float64 {
	base := s.LR
	if s.Decays() && step > s.Start {
		u := math.Min(1, float64(step-s.Start)/float64(s.End-s.Start))
		var c float64
		if s.Decay == DecayCosine {
			c = 0.5 * (1 + math.Cos(math.Pi*u))
		} else {
			c = 1 - u
		}
		base = s.Min + (s.LR-s.Min)*c
	}
	return LearningRate(base, s.Warmup, step)
}

// String describes the schedule, e.g. "cosine 0.0002 → 2e-06 over steps
// 6000–100000, warm-up 200 steps" or "constant 0.0002, warm-up 5000 steps".
func (s LRSchedule) String() string {
	warm := "no warm-up"
	if s.Warmup == 1 {
		warm = "warm-up 1 step"
	} else if s.Warmup > 1 {
		warm = fmt.Sprintf("warm-up %d steps", s.Warmup)
	}
	if !s.Decays() {
		return fmt.Sprintf("constant %g, %s", s.LR, warm)
	}
	return fmt.Sprintf("%s %g → %g over steps %d–%d, %s", s.Decay, s.LR, s.Min, s.Start, s.End, warm)
}

// LRChange records a change of the learning-rate schedule made when a run
// was resumed: updates up to Step used From, later ones use To.
type LRChange struct {
	Step   int     `json:"step"`
	From   string  `json:"from"`
	To     string  `json:"to"`
	LRWas  float64 `json:"lr_was"`  // update Step+1's rate under From
	LRNext float64 `json:"lr_next"` // update Step+1's rate under To
}

// LRChanges returns the schedule changes made so far, oldest first.
func (t *Trainer) LRChanges() []LRChange { return append([]LRChange(nil), t.lrChanges...) }

// ChangeSchedule makes updates after the current step follow s (End 0:
// the run's total). Updates already made keep the rate they had, so the
// result equals a run whose schedule was s from the start exactly when the
// two schedules agree up to the current step. A change is recorded in
// ckpt.json and the model's metadata from the next checkpoint on;
// ChangeSchedule returns it, or nil when s is the current schedule.
func (t *Trainer) ChangeSchedule(s LRSchedule) (*LRChange, error) {
	if s.Decays() && s.End == 0 {
		s.End = t.cfg.Steps
	}
	if err := s.Validate(t.cfg.Steps); err != nil {
		return nil, err
	}
	old := t.cfg.Schedule()
	if s == old {
		return nil, nil
	}
	ch := LRChange{Step: t.step, From: old.String(), To: s.String(), LRWas: old.At(t.step + 1), LRNext: s.At(t.step + 1)}
	t.cfg.SetSchedule(s)
	t.lrChanges = append(t.lrChanges, ch)
	return &ch, nil
}
