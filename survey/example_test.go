package survey_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/lenscore/lenscore/survey"
)

// A catalogue line's per-lens overrides become sample flags; relative
// paths are taken from the catalogue's folder.
func ExampleReadCatalog() {
	dir, _ := os.MkdirTemp("", "survey-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "slacs.jsonl")
	os.WriteFile(path, []byte(`{"name": "J0946", "obs": "J0946/obs.fits", "lens": "J0946/lens.json", "args": {"noise-sigma": 0.012, "n-samples": 32}}`+"\n"), 0o644)
	c, err := survey.ReadCatalog(path)
	if err != nil {
		panic(err)
	}
	e := c.Entries[0]
	rel, _ := filepath.Rel(dir, e.Obs)
	fmt.Println(e.Name, rel, e.FlagArgs())
	// Output: J0946 J0946/obs.fits [--n-samples=32 --noise-sigma=0.012]
}

// A fit_lens line gives the starting lens and fit-lens flags instead of a
// lens file.
func ExampleReadCatalog_fitLens() {
	dir, _ := os.MkdirTemp("", "survey-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "slacs.jsonl")
	os.WriteFile(path, []byte(`{"name": "J1205", "obs": "J1205/obs.fits", "fit_lens": {"lens_init": "J1205/start.json", "args": {"starts": 4, "free": "theta_e,e1,e2"}}}`+"\n"), 0o644)
	c, err := survey.ReadCatalog(path)
	if err != nil {
		panic(err)
	}
	f := c.Entries[0].FitLens
	rel, _ := filepath.Rel(dir, f.LensInit)
	fmt.Println(rel, f.Args)
	// Output: J1205/start.json [--free=theta_e,e1,e2 --starts=4]
}
