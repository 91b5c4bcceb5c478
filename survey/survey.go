package survey

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lenscore/lenscore/atomicfile"
)

// Entry is one catalogue line.
type Entry struct {
	Name    string         `json:"name"`
	Obs     string         `json:"obs"`
	Lens    string         `json:"lens,omitempty"`
	FitLens *FitLens       `json:"fit_lens,omitempty"`
	Args    map[string]any `json:"args,omitempty"`
	Line    int            `json:"-"` // line number in the catalogue (from 1)
}

// FitLens are a line's settings for fitting its lens model (lenscore
// fit-lens) before sampling: the starting lens file and fit-lens flags,
// given either as an object {"starts": 2, "free": "theta_e,e1,e2"} (like
// the line's args) or as a list ["--starts", "2"].
type FitLens struct {
	LensInit string          `json:"lens_init"`
	RawArgs  json.RawMessage `json:"args,omitempty"`
	// Args are the fit-lens flags: the object's keys as sorted
	// --name=value, or the list as given. Set by ReadCatalog.
	Args []string `json:"-"`
}

// fitForbidden are fit-lens flags a fit_lens block may not set.
var fitForbidden = map[string]string{"obs": "the line's obs", "lens": "fit_lens's lens_init", "lens-init": "fit_lens's lens_init",
	"out": "the lens's fit folder", "resume": "the survey itself"}

// parseFitLens checks f and fills f.Args; base is the catalogue's folder.
func parseFitLens(f *FitLens, base string) error {
	if f.LensInit == "" {
		return errors.New("fit_lens: no lens_init (starting lens file)")
	}
	if !filepath.IsAbs(f.LensInit) {
		f.LensInit = filepath.Join(base, f.LensInit)
	}
	f.Args = nil
	raw := bytes.TrimSpace(f.RawArgs)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var names []string
	switch raw[0] {
	case '{':
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("fit_lens args: %v", err)
		}
		if err := checkArgValues("fit_lens args", m); err != nil {
			return err
		}
		f.Args = flagArgs(m)
		for k := range m {
			names = append(names, k)
		}
	case '[':
		if err := json.Unmarshal(raw, &f.Args); err != nil {
			return fmt.Errorf("fit_lens args: want a list of strings such as [\"--starts\", \"2\"]: %v", err)
		}
		for _, a := range f.Args {
			if strings.HasPrefix(a, "-") {
				n, _, _ := strings.Cut(a, "=")
				names = append(names, n)
			}
		}
	default:
		return fmt.Errorf("fit_lens args: want an object {flag: value} or a list of strings, got %s", raw)
	}
	for _, k := range names {
		if why, bad := fitForbidden[strings.TrimLeft(k, "-")]; bad {
			return fmt.Errorf("fit_lens args may not set %q (it is %s)", k, why)
		}
	}
	return nil
}

// checkArgValues checks that the values of an args object are flag values.
func checkArgValues(what string, m map[string]any) error {
	for k, v := range m {
		switch v.(type) {
		case string, float64, bool:
		default:
			return fmt.Errorf("%s %q: want a string, number or boolean, got %v", what, k, v)
		}
	}
	return nil
}

// Catalog is a parsed catalogue.
type Catalog struct {
	Path    string
	SHA256  string // of the file's bytes
	Entries []Entry
	raw     []byte
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// forbidden are sample flags a catalogue line may not set.
var forbidden = map[string]string{"obs": "the line's obs", "lens": "the line's lens", "out": "the survey's folder",
	"shard": "the survey's --shard", "resume": "the survey itself", "lens-samples": "the line's fit_lens"}

// ReadCatalog reads and checks a JSON Lines catalogue.
func ReadCatalog(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	c := &Catalog{Path: path, SHA256: hex.EncodeToString(sum[:]), raw: b}
	base := filepath.Dir(path)
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := fmt.Sprintf("%s:%d", path, ln)
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s: not a JSON lens entry: %v", at, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s: more than one JSON value on the line", at)
		}
		e.Line = ln
		if e.Name == "" {
			e.Name = fmt.Sprintf("lens-%04d", ln)
		}
		switch {
		case !nameRE.MatchString(e.Name):
			return nil, fmt.Errorf("%s: name %q: use letters, digits, '.', '_' and '-' (it names the lens's folder)", at, e.Name)
		case seen[e.Name] > 0:
			return nil, fmt.Errorf("%s: name %q already used on line %d", at, e.Name, seen[e.Name])
		case e.Obs == "":
			return nil, fmt.Errorf("%s: no obs (observation FITS file)", at)
		case e.FitLens != nil && e.Lens != "":
			return nil, fmt.Errorf("%s: both lens and fit_lens: give a lens file or the settings to fit one, not both", at)
		case e.FitLens == nil && e.Lens == "":
			return nil, fmt.Errorf("%s: no lens: give a lens file (\"lens\") or the settings to fit one (\"fit_lens\")", at)
		}
		if e.FitLens != nil {
			if err := parseFitLens(e.FitLens, base); err != nil {
				return nil, fmt.Errorf("%s: %w", at, err)
			}
		}
		seen[e.Name] = ln
		for k := range e.Args {
			if why, bad := forbidden[strings.TrimLeft(k, "-")]; bad {
				return nil, fmt.Errorf("%s: args may not set %q (it is %s)", at, k, why)
			}
		}
		if err := checkArgValues("args", e.Args); err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		for _, p := range []*string{&e.Obs, &e.Lens} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(base, *p)
			}
		}
		c.Entries = append(c.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Entries) == 0 {
		return nil, fmt.Errorf("%s: no lenses in the catalogue", path)
	}
	return c, nil
}

// FlagArgs returns the line's overrides as sorted --name=value arguments.
func (e *Entry) FlagArgs() []string { return flagArgs(e.Args) }

func flagArgs(m map[string]any) []string {
	var out []string
	for k, v := range m {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case bool:
			s = strconv.FormatBool(x)
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		}
		out = append(out, "--"+strings.TrimLeft(k, "-")+"="+s)
	}
	sort.Strings(out)
	return out
}

// Status values.
const (
	Pending     = "pending"
	Running     = "running"
	Done        = "done"
	Failed      = "failed"
	Interrupted = "interrupted"
)

// StatusFile is the status of a lens inside its folder.
const StatusFile = "status.json"

// Status is a lens's state.
type Status struct {
	Name     string         `json:"name"`
	Line     int            `json:"line"`
	Status   string         `json:"status"`
	Error    string         `json:"error,omitempty"`
	Attempts int            `json:"attempts"`
	Seconds  float64        `json:"seconds,omitempty"` // of the last attempt
	Updated  string         `json:"updated,omitempty"`
	Results  map[string]any `json:"results,omitempty"`
}

// ReadStatus reads the status of the lens folder dir; a folder without a
// status file is pending.
func ReadStatus(dir string, e *Entry) (*Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if errors.Is(err, os.ErrNotExist) {
		return &Status{Name: e.Name, Line: e.Line, Status: Pending}, nil
	}
	if err != nil {
		return nil, err
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StatusFile), err)
	}
	return &s, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// RunFile records what a survey folder is a survey of.
const RunFile = "survey-run.json"

// CatalogCopy is the copy of the catalogue in the survey folder.
const CatalogCopy = "catalog.jsonl"

// Run describes a survey: its catalogue and the sampling flags every lens
// gets (before its own overrides).
type Run struct {
	Catalog       string   `json:"catalog"`
	CatalogSHA256 string   `json:"catalog_sha256"`
	Args          []string `json:"sample_args"`
}

// Prepare creates the survey folder dir for catalogue c and sampling flags
// args, or checks that dir already holds the same survey (shards of one
// survey all call it). A folder holding another survey is refused, naming
// what differs.
func Prepare(dir string, c *Catalog, args []string) error {
	r := Run{Catalog: c.Path, CatalogSHA256: c.SHA256, Args: args}
	if r.Args == nil {
		r.Args = []string{}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, RunFile)
	if b, err := os.ReadFile(path); err == nil {
		var old Run
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case old.CatalogSHA256 != r.CatalogSHA256:
			return fmt.Errorf("%s holds a survey of another catalogue (%s, sha256 %.12s…; %s has %.12s…); use another --out", dir, old.Catalog, old.CatalogSHA256, c.Path, c.SHA256)
		case strings.Join(old.Args, "\x00") != strings.Join(r.Args, "\x00"):
			return fmt.Errorf("%s holds a survey with other sampling flags (%s; now %s); use another --out", dir, strings.Join(old.Args, " "), strings.Join(r.Args, " "))
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// First shard: write the catalogue copy, then the run file (which
	// marks the folder as a survey). Concurrent first shards write the same
	// bytes.
	if err := atomicfile.WriteFile(filepath.Join(dir, CatalogCopy), c.raw); err != nil {
		return err
	}
	return writeJSON(path, r)
}

// LensFunc samples one lens into its folder and returns results to record
// (e.g. χ²_ν); resume is true when an earlier attempt was interrupted.
type LensFunc func(ctx context.Context, e *Entry, dir string, resume bool) (map[string]any, error)

// RunLenses runs fn for the catalogue entries with the given indices, each
// in dir/NAME, skipping finished ones. A failed lens is recorded and the
// next one starts; a cancelled context stops the loop, marks the lens
// interrupted and returns the context's error. It returns the number of
// lenses done (now or before) and failed.
func RunLenses(ctx context.Context, dir string, c *Catalog, items []int, fn LensFunc, log io.Writer) (done, failed int, err error) {
	for _, i := range items {
		e := &c.Entries[i]
		ld := filepath.Join(dir, e.Name)
		st, err := ReadStatus(ld, e)
		if err != nil {
			return done, failed, err
		}
		if st.Status == Done {
			done++
			fmt.Fprintf(log, "survey: %s already done\n", e.Name)
			continue
		}
		if err := os.MkdirAll(ld, 0o755); err != nil {
			return done, failed, err
		}
		resume := st.Status == Running || st.Status == Interrupted
		st.Status, st.Error, st.Results = Running, "", nil
		st.Attempts++
		st.Updated = time.Now().UTC().Format(time.RFC3339)
		if err := writeJSON(filepath.Join(ld, StatusFile), st); err != nil {
			return done, failed, err
		}
		fmt.Fprintf(log, "survey: lens %s (line %d, attempt %d)\n", e.Name, e.Line, st.Attempts)
		start := time.Now()
		res, rerr := fn(ctx, e, ld, resume)
		st.Seconds = math.Round(time.Since(start).Seconds()*10) / 10
		st.Updated = time.Now().UTC().Format(time.RFC3339)
		switch {
		case rerr == nil:
			st.Status, st.Results = Done, res
			done++
		case ctx.Err() != nil:
			st.Status = Interrupted
		default:
			st.Status, st.Error = Failed, rerr.Error()
			failed++
			fmt.Fprintf(log, "survey: lens %s failed: %v\n", e.Name, rerr)
		}
		if err := writeJSON(filepath.Join(ld, StatusFile), st); err != nil {
			return done, failed, err
		}
		if st.Status == Interrupted {
			return done, failed, fmt.Errorf("survey interrupted at lens %s: %w", e.Name, ctx.Err())
		}
	}
	return done, failed, nil
}

// Index is survey.json.
type Index struct {
	Catalog string    `json:"catalog"`
	Lenses  int       `json:"lenses"`
	Counts  Counts    `json:"counts"`
	Entries []*Status `json:"entries"`
	Updated string    `json:"updated"`
}

// Counts of lenses per status.
type Counts struct {
	Done, Failed, Running, Interrupted, Pending int
}

// IndexFile and TableFile are written by WriteIndex.
const (
	IndexFile = "survey.json"
	TableFile = "survey.md"
)

// BuildIndex reads the status of every lens of c in dir.
func BuildIndex(dir string, c *Catalog) (*Index, error) {
	idx := &Index{Catalog: c.Path, Lenses: len(c.Entries), Updated: time.Now().UTC().Format(time.RFC3339)}
	for i := range c.Entries {
		e := &c.Entries[i]
		st, err := ReadStatus(filepath.Join(dir, e.Name), e)
		if err != nil {
			return nil, err
		}
		switch st.Status {
		case Done:
			idx.Counts.Done++
		case Failed:
			idx.Counts.Failed++
		case Running:
			idx.Counts.Running++
		case Interrupted:
			idx.Counts.Interrupted++
		default:
			idx.Counts.Pending++
		}
		idx.Entries = append(idx.Entries, st)
	}
	return idx, nil
}

// WriteIndex writes survey.json and survey.md into dir. columns are the
// result keys shown in the table, in order.
func WriteIndex(dir string, idx *Index, columns []string) error {
	if err := writeJSON(filepath.Join(dir, IndexFile), idx); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, TableFile), []byte(Table(idx, columns)))
}

// Table formats the index as a Markdown table.
func Table(idx *Index, columns []string) string {
	var b strings.Builder
	c := idx.Counts
	fmt.Fprintf(&b, "# Survey of %s\n\n%d lenses: %d done, %d failed, %d running, %d interrupted, %d pending.\n\n",
		idx.Catalog, idx.Lenses, c.Done, c.Failed, c.Running, c.Interrupted, c.Pending)
	b.WriteString("| lens | line | status | attempts | seconds |")
	for _, k := range columns {
		b.WriteString(" " + k + " |")
	}
	b.WriteString(" error |\n|---|---|---|---|---|")
	for range columns {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, s := range idx.Entries {
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %g |", s.Name, s.Line, s.Status, s.Attempts, s.Seconds)
		for _, k := range columns {
			v, ok := s.Results[k]
			switch x := v.(type) {
			case float64:
				fmt.Fprintf(&b, " %.4g |", x)
			default:
				if ok {
					fmt.Fprintf(&b, " %v |", x)
				} else {
					b.WriteString("  |")
				}
			}
		}
		msg := strings.NewReplacer("|", `\|`, "\n", " ").Replace(s.Error)
		if len(msg) > 200 {
			msg = msg[:197] + "…"
		}
		fmt.Fprintf(&b, " %s |\n", msg)
	}
	return b.String()
}
