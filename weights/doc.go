// Package weights stores lenscore network parameters ([]*nn.Param) in the
// safetensors format, so that they can be read by any safetensors reader.
//
// # File layout
//
//	bytes 0..7      N, the header length, unsigned 64-bit little-endian
//	bytes 8..8+N    a UTF-8 JSON object (the header), right-padded with spaces
//	                so that the data section starts at a multiple of 8
//	bytes 8+N..     the data section: raw little-endian IEEE-754 float32 values
//
// The header maps each tensor name to
//
//	{"dtype":"F32","shape":[d0,d1,...],"data_offsets":[begin,end]}
//
// where begin and end are byte offsets relative to the start of the data
// section, end − begin = 4·∏dᵢ, and the optional entry "__metadata__" maps
// strings to strings. Values are stored row-major in the order given by the
// shape, which is the layout of nn.Param.Data.
//
// # Determinism and atomicity
//
// Save lays the tensors out in ascending name order and writes the header
// with sorted keys, so the same parameters and metadata always give the same
// bytes. It writes a temporary file in the destination directory, fsyncs it
// and renames it over the destination, so a crash leaves either the old or
// the new file, never a torn one.
//
// # Validation
//
// Load accepts only a file that describes exactly the given parameters: the
// header length must fit in the file (and be at most MaxHeaderBytes), the
// header must be one JSON object with unique keys and no unknown fields,
// every parameter must have a tensor of dtype F32 and the same shape, there
// must be no other tensors, the tensors must tile the data section exactly
// (no overlaps, gaps, out-of-range offsets or trailing bytes) and every value
// must be finite. Any violation is an error naming the file and the problem;
// the parameters are left untouched unless everything checks out.
package weights
