// Package survey runs one posterior-sampling job per lens of a catalogue,
// each into its own folder, so that a survey of many lenses can be spread
// over the tasks of a job array, resumed after an interruption, and
// survive lenses that fail.
//
// # Catalogue
//
// A catalogue is JSON Lines: one object per lens,
//
//	{"name": "J0737", "obs": "J0737/obs.fits", "lens": "J0737/lens.json", "args": {"noise-sigma": 0.02, "n-samples": 32}}
//	{"name": "J1205", "obs": "J1205/obs.fits", "fit_lens": {"lens_init": "J1205/start.json", "args": {"starts": 4}}}
//
// name (letters, digits, '.', '_', '-'; unique; default lens-LLLL from the
// line number L) names the lens's folder; obs is the observation; args
// overrides the survey's sampling flags for this lens (any flag of lenscore
// sample except obs, lens, out, shard, resume and lens-samples). A line has
// exactly one of lens, its lens file, and fit_lens, the settings for
// fitting the lens model first (FitLens): lens_init, the starting lens
// file, and args, fit-lens flags as an object {flag: value} or a list of
// strings (not obs, lens, lens-init, out or resume). The caller runs the
// fit into DIR/NAME/fit and samples with its lens draws (lenscore survey
// does). Relative paths are taken from the catalogue's folder. Blank lines
// and lines starting with '#' are skipped. Errors name the file and line.
//
// # Folders and status
//
// The survey folder DIR holds survey-run.json (the catalogue's hash and the
// sampling flags; a second survey with different ones is refused instead
// of mixing with it), a copy of the catalogue, one folder per lens and, in
// each, status.json: pending → running → done or failed (with the error
// and the attempt count). Shard i of N takes the lenses i, i+N, i+2N, … in
// catalogue order. A re-run skips finished lenses, resumes interrupted ones
// and retries failed ones; a failure is recorded and the next lens starts.
// Only the shard that runs a lens writes its folder, so shards never write
// the same file; WriteIndex rebuilds DIR/survey.json (status and results
// of every lens, and counts) and DIR/survey.md (the same as a table) from
// the status files, atomically, and may run at any time.
package survey
