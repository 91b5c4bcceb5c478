// Package fits reads and writes FITS image files (FITS Standard 4.0) that
// astropy, DS9 and cfitsio read unchanged.
//
// # Layout
//
// A file is a sequence of header-data units (HDUs). Each header is a list of
// 80-character ASCII cards ending with END, padded with spaces to a multiple
// of 2880 bytes; each data array follows in big-endian byte order, padded
// with zero bytes to a multiple of 2880. The first HDU is the primary one
// (SIMPLE = T); the following are extensions (XTENSION = 'IMAGE', …).
// Read returns image HDUs with their data; other extensions (BINTABLE,
// TABLE) and random-groups arrays are returned with their header only
// (Skipped = true), their data stepped over by its declared size
//
//	|BITPIX|/8 · GCOUNT · (PCOUNT + NAXIS1·NAXIS2·…·NAXISm).
//
// A primary HDU with NAXIS = 0 followed by image extensions (as astropy
// writes extension-only files) is read as an HDU with empty Shape and Data.
//
// # Axis order
//
// Shape lists the axes in FITS order: Shape[0] = NAXIS1 varies fastest
// (columns, x), Shape[1] = NAXIS2 (rows, y), Shape[2] = NAXIS3 (planes).
// Data is kept in file order, so pixel (col, row, plane) of an
// nx × ny × nz array is
//
//	Data[(plane·ny + row)·nx + col].
//
// Row 0 is the first row stored in the file, which FITS viewers draw at the
// bottom: it is the most negative y. This is astropy's data[row, col] with
// origin='lower' and numpy shape (nz, ny, nx).
//
// # Values
//
// Data holds physical values
//
//	physical = BZERO + BSCALE · stored
//
// (BSCALE = 1, BZERO = 0 when absent). Integer stored values equal to BLANK
// read as NaN. On write, BSCALE/BZERO/BLANK cards in Header are applied in
// reverse: stored = round((physical − BZERO)/BSCALE) for integer BITPIX;
// values out of the type's range, or NaN without a BLANK card, are errors.
// Float BITPIX (-32, -64) stores NaN and ±Inf as IEEE values.
//
// # Headers
//
// Every card is kept, in order, with its value (string, int64, float64, bool
// or nil) and comment. Writers regenerate the structural keywords (SIMPLE or
// XTENSION, BITPIX, NAXIS, NAXISn, EXTEND, PCOUNT, GCOUNT) from Bitpix and
// Shape, so copies of them in Header are ignored, and EXTNAME comes from
// HDU.Name when it is set. Reals are written with the shortest decimal form
// that reads back to the same float64; string values keep leading blanks
// and lose trailing ones (as the standard says they are insignificant).
// Comments too long for their card are truncated.
//
// # Errors
//
// Malformed input never panics: truncated headers or data, a missing END
// card, non-ASCII or unparsable cards, unsupported BITPIX, missing or
// negative NAXISn and declared sizes beyond MaxDataBytes are reported with
// the HDU index, byte offset and (from ReadFile) the path. Data memory is
// only allocated as bytes actually arrive, so a small file declaring a huge
// array fails without a huge allocation. WriteFile is atomic (temporary file
// in the same directory, then rename).
package fits
