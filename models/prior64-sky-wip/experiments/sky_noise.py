"""Sky noise of the true sources and of the posterior samples of a coverage run.

Usage: python3 sky_noise.py RUN_DIR[:N] ... > sky_noise.json

RUN_DIR is the coverage folder of `lenscore experiment coverage --save-samples`
(coverage.json and coverage_samples.fits); N keeps its first N lenses. For each
lens the sky noise is 1.4826 * MAD of the 4-pixel border (as train.SkyStats
measures it), of the truth and of each sample; the output gives, per data
set, the medians, the median ratio samples/truth, the mean fraction of
negative pixels and the median per-lens spread-skill ratio.
"""
import json
import sys

import numpy as np
from astropy.io import fits


def border(a, w=4):
    m = np.zeros(a.shape, bool)
    m[:w, :] = m[-w:, :] = m[:, :w] = m[:, -w:] = True
    return a[m]


def sky_sigma(a):
    b = border(a)
    return 1.4826 * float(np.median(np.abs(b - np.median(b))))


def summarise(arg):
    d, _, n = arg.partition(":")
    with fits.open(d + "/coverage_samples.fits") as h:
        truth = h["TRUTH"].data.astype(float)
        samples = h["SAMPLES"].data.astype(float)
    r = json.load(open(d + "/coverage.json"))
    k = r["samples_per_lens"]
    lenses = r["per_lens"][: int(n)] if n else r["per_lens"]
    rows = []
    for j, pl in enumerate(lenses):
        s = samples[j * k:(j + 1) * k]
        rows.append(dict(set=pl["set"], source=pl["source"],
                         sky_truth=sky_sigma(truth[j]), sky_samples=float(np.mean([sky_sigma(x) for x in s])),
                         neg_truth=float((truth[j] < 0).mean()), neg_samples=float((s < 0).mean()),
                         spread_skill=pl["spread_skill"]))
    out = {"run": d, "prior": r["prior"], "lenses": len(rows), "by_set": []}
    for name in sorted({x["set"] for x in rows}) + ["all"]:
        sel = [x for x in rows if name == "all" or x["set"] == name]
        a = lambda key: np.array([x[key] for x in sel])
        out["by_set"].append(dict(
            set=name, lenses=len(sel),
            sky_truth_median=float(np.median(a("sky_truth"))), sky_samples_median=float(np.median(a("sky_samples"))),
            sky_ratio_median=float(np.median(a("sky_samples") / np.maximum(a("sky_truth"), 1e-9))),
            neg_truth_mean=float(a("neg_truth").mean()), neg_samples_mean=float(a("neg_samples").mean()),
            spread_skill_median=float(np.median(a("spread_skill")))))
    out["per_lens"] = rows
    return out


if __name__ == "__main__":
    json.dump([summarise(a) for a in sys.argv[1:]], sys.stdout, indent=1)
    print()
