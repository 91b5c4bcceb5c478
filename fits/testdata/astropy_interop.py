"""Interoperability helper for the fits package tests (run by /usr/bin/python3).

  astropy_interop.py dump FILE...   open each FILE with astropy, verify it
                                    strictly and print its HDUs as JSON
  astropy_interop.py write DIR      write reference files with astropy into
                                    DIR, then dump them like `dump`

JSON: {path: [{"shape": [...numpy order...], "bitpix": int, "name": str,
"cards": [[key, value, comment], ...], "data": [...C order, physical...]}]}.
NaN is null, infinities are the strings "inf" / "-inf"; an undefined card
value is null.
"""
import json
import math
import os
import sys

import numpy as np
from astropy.io import fits


def num(x):
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def value(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return num(v)
    if isinstance(v, str):
        return v
    return None  # astropy's Undefined


def dump(path):
    out = []
    with fits.open(path) as hdul:
        hdul.verify("exception")
        for hdu in hdul:
            # Header first: reading scaled data rewrites BITPIX/BSCALE/BZERO.
            rec = {
                "bitpix": hdu.header["BITPIX"],
                "name": hdu.header.get("EXTNAME", ""),
                "cards": [[c.keyword, value(c.value), c.comment] for c in hdu.header.cards],
            }
            is_image = isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU))
            data = hdu.data if is_image else None
            rec["shape"] = list(data.shape) if data is not None else []
            rec["data"] = [num(x) for x in np.asarray(data).ravel()] if data is not None else []
            out.append(rec)
    return out


def write(d):
    rng = np.random.default_rng(1)
    files = {}

    def put(name, hdus):
        p = os.path.join(d, name)
        fits.HDUList(hdus).writeto(p, overwrite=True)
        files[name] = p

    a8 = (np.arange(12, dtype=np.uint8).reshape(3, 4) * 21).astype(np.uint8)
    put("a8.fits", [fits.PrimaryHDU(a8)])
    a16 = np.array([[-32768, -1, 0], [1, 1234, 32767]], dtype=np.int16)
    put("a16.fits", [fits.PrimaryHDU(a16)])
    a32 = np.array([[-2147483648, 7], [99999, 2147483647]], dtype=np.int32)
    put("a32.fits", [fits.PrimaryHDU(a32)])
    am32 = rng.normal(size=(5, 4)).astype(np.float32)
    am32[0, 1] = np.nan
    am32[2, 2] = np.inf
    put("am32.fits", [fits.PrimaryHDU(am32)])
    am64 = rng.normal(size=(3, 6))
    put("am64.fits", [fits.PrimaryHDU(am64)])
    u16 = np.array([[0, 1, 65535], [32768, 40000, 7]], dtype=np.uint16)
    put("u16.fits", [fits.PrimaryHDU(u16)])
    # Scaled integers: float data stored as int16 with BSCALE/BZERO.
    s = fits.PrimaryHDU(np.array([[100.0, 100.25, 101.5], [-3.0, 0.0, 7.75]]))
    s.scale("int16", bscale=0.25, bzero=10.0)
    put("scaled16.fits", [s])
    s32 = fits.PrimaryHDU(np.array([[1.5, -2.5], [1000.0, 3.0]]))
    s32.scale("int32", bscale=0.5, bzero=-7.0)
    put("scaled32.fits", [s32])
    # Empty primary, image extensions with names, a cube, custom cards.
    p = fits.PrimaryHDU()
    p.header["OBSERVER"] = ("E. Hubble", "who")
    p.header["EXPTIME"] = (1200.5, "seconds")
    p.header["NCOMBINE"] = (7, "frames")
    p.header["FLAG"] = (True, "a logical")
    p.header["TINY"] = 1e-300
    p.header["LONGSTR"] = "x" * 30 + "y" * 60
    p.header["UNDEF"] = None
    p.header.add_comment("a comment card")
    p.header.add_history("a history card")
    sci = fits.ImageHDU(rng.normal(size=(4, 5)), name="SCI")
    cube = fits.ImageHDU(np.arange(24, dtype=np.float32).reshape(2, 3, 4), name="CUBE")
    put("ext.fits", [p, sci, cube])
    return {n: dump(f) for n, f in files.items()}


def main():
    if sys.argv[1] == "dump":
        res = {f: dump(f) for f in sys.argv[2:]}
    else:
        res = write(sys.argv[2])
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
