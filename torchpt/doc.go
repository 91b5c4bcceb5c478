// Package torchpt reads and writes PyTorch state-dict checkpoints (the files
// torch.save(module.state_dict(), path) writes, e.g. score_models'
// checkpoint_*.pt) without Python, through a restricted unpickler in which no
// code can run.
//
// # File format
//
// Since PyTorch 1.6 a checkpoint is a zip archive whose entries share one
// top-level directory ARCHIVE:
//
//	ARCHIVE/data.pkl     the pickled state dict (protocol 2)
//	ARCHIVE/data/KEY     the raw bytes of storage KEY, little-endian
//	ARCHIVE/version      the serialisation version ("3")
//	ARCHIVE/byteorder    "little" (written by newer PyTorch; optional)
//
// The pickle of a state dict builds a collections.OrderedDict (GLOBAL,
// EMPTY_TUPLE, REDUCE) and fills it with SETITEMS of name → tensor, each
// tensor being
//
//	torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])
//
// where storage is a persistent id (BINPERSID) of the tuple
// ("storage", torch.FloatStorage, KEY, location, numel) and hooks an empty
// OrderedDict. A final BUILD sets the dict's _metadata attribute (module
// versions), which is ignored.
//
// # What is accepted
//
// Opcodes: PROTO, FRAME, MARK, STOP, the memo (BINPUT, LONG_BINPUT, MEMOIZE,
// BINGET, LONG_BINGET), GLOBAL and STACK_GLOBAL, REDUCE, BUILD, BINPERSID,
// EMPTY_TUPLE, TUPLE, TUPLE1–3, EMPTY_DICT, EMPTY_LIST, SETITEM, SETITEMS,
// APPENDS, APPEND, BINUNICODE, SHORT_BINUNICODE, BININT, BININT1, BININT2,
// LONG1, NONE, NEWTRUE, NEWFALSE and BINFLOAT. Globals: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
// storage classes torch.FloatStorage, DoubleStorage, HalfStorage and
// BFloat16Storage (values are converted to float32). Anything else — any other
// opcode or global, REDUCE of anything but these callables, BUILD on anything
// but an OrderedDict — is an error naming it. The storages must be stored
// uncompressed in the zip (as torch.save writes them), so every declared size
// is checked against bytes that exist before anything is allocated: a
// storage's numel × element size must equal its entry's size, and a tensor's
// view (offset, sizes, strides) must lie inside its storage and have no more
// elements than it. Legacy (pre-1.6, non-zip) checkpoints are refused.
//
// # Writing
//
// WriteStateDict writes float32 tensors in the same layout (protocol 2, each
// tensor its own storage, entries stored uncompressed and 64-byte aligned as
// PyTorch aligns them), atomically; torch.load and Module.load_state_dict
// read it.
package torchpt
