package torchpt

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Values of the restricted unpickler.
type (
	global struct{ module, name string }
	tuple  []any
	list   struct{ items []any }
	// odict is a dict or OrderedDict with its insertion order.
	odict struct {
		keys []any
		vals map[any]any
	}
	// storageRef is a persistent id of a tensor storage.
	storageRef struct {
		dtype    string // "float32", "float64", "float16", "bfloat16"
		key      string
		location string
		numel    int64
	}
	// tensorRef is what _rebuild_tensor_v2 returns: a view of a storage.
	tensorRef struct {
		storage storageRef
		offset  int64
		size    []int64
		stride  []int64
	}
	markT struct{}
)

func newODict() *odict { return &odict{vals: map[any]any{}} }

func (d *odict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, nil:
	default:
		return fmt.Errorf("dict key of type %s", typeName(k))
	}
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
	return nil
}

var storageTypes = map[string]string{
	"FloatStorage":    "float32",
	"DoubleStorage":   "float64",
	"HalfStorage":     "float16",
	"BFloat16Storage": "bfloat16",
}

// allowedGlobal reports whether GLOBAL module.name is one the state-dict
// pickle uses.
func allowedGlobal(module, name string) bool {
	switch module {
	case "collections":
		return name == "OrderedDict"
	case "torch._utils":
		return name == "_rebuild_tensor_v2" || name == "_rebuild_parameter"
	case "torch":
		_, ok := storageTypes[name]
		return ok
	}
	return false
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case tuple:
		return "tuple"
	case *list:
		return "list"
	case *odict:
		return "dict"
	case global:
		return "global " + v.module + "." + v.name
	case storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	case markT:
		return "mark"
	}
	return fmt.Sprintf("%T", v)
}

// unpickle runs the restricted unpickler on p. persistent resolves a
// BINPERSID tuple. Every length read from p is checked against the bytes
// left before it is used, so memory use is bounded by a small multiple of
// len(p).
func unpickle(p []byte, persistent func(tuple) (any, error)) (any, error) {
	var (
		stack []any
		marks []int
		memo  = map[uint32]any{}
		pos   int
	)
	errAt := func(op int, format string, a ...any) error {
		return fmt.Errorf("pickle offset %d (opcode 0x%02x): %s", op, p[op], fmt.Sprintf(format, a...))
	}
	need := func(n int) bool { return n >= 0 && pos+n <= len(p) }
	// memoIndex reads a memo index: one byte (BINPUT, BINGET) or a
	// little-endian uint32 (LONG_BINPUT, LONG_BINGET).
	memoIndex := func(short bool) (uint32, bool) {
		if short {
			if !need(1) {
				return 0, false
			}
			pos++
			return uint32(p[pos-1]), true
		}
		if !need(4) {
			return 0, false
		}
		pos += 4
		return binary.LittleEndian.Uint32(p[pos-4:]), true
	}
	pop := func() (any, bool) {
		if len(stack) == 0 || (len(marks) > 0 && len(stack) <= marks[len(marks)-1]) {
			return nil, false
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v, true
	}
	popMark := func() ([]any, bool) {
		if len(marks) == 0 {
			return nil, false
		}
		m := marks[len(marks)-1]
		marks = marks[:len(marks)-1]
		items := append([]any(nil), stack[m:]...)
		stack = stack[:m]
		return items, true
	}
	top := func() (any, bool) {
		if len(stack) == 0 || (len(marks) > 0 && len(stack) <= marks[len(marks)-1]) {
			return nil, false
		}
		return stack[len(stack)-1], true
	}
	for pos < len(p) {
		op := pos
		c := p[pos]
		pos++
		switch c {
		case 0x80: // PROTO
			if !need(1) {
				return nil, errAt(op, "truncated")
			}
			if v := p[pos]; v < 2 || v > 5 {
				return nil, errAt(op, "pickle protocol %d not supported", v)
			}
			pos++
		case 0x95: // FRAME
			if !need(8) {
				return nil, errAt(op, "truncated")
			}
			pos += 8
		case '(': // MARK
			marks = append(marks, len(stack))
		case '.': // STOP
			if len(marks) != 0 || len(stack) != 1 {
				return nil, errAt(op, "STOP with %d values and %d marks on the stack", len(stack), len(marks))
			}
			return stack[0], nil
		case 'q', 'r': // BINPUT, LONG_BINPUT
			idx, ok := memoIndex(c == 'q')
			if !ok {
				return nil, errAt(op, "truncated")
			}
			v, ok := top()
			if !ok {
				return nil, errAt(op, "memo put with an empty stack")
			}
			memo[idx] = v
		case 0x94: // MEMOIZE
			v, ok := top()
			if !ok {
				return nil, errAt(op, "memoize with an empty stack")
			}
			memo[uint32(len(memo))] = v
		case 'h', 'j': // BINGET, LONG_BINGET
			idx, ok := memoIndex(c == 'h')
			if !ok {
				return nil, errAt(op, "truncated")
			}
			v, ok := memo[idx]
			if !ok {
				return nil, errAt(op, "memo index %d not set", idx)
			}
			stack = append(stack, v)
		case 'c': // GLOBAL "module\nname\n"
			mod, ok1 := readLine(p, &pos)
			name, ok2 := readLine(p, &pos)
			if !ok1 || !ok2 {
				return nil, errAt(op, "truncated GLOBAL")
			}
			if !allowedGlobal(mod, name) {
				return nil, errAt(op, "global %s.%s is not allowed (a state-dict checkpoint uses only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch storage classes)", mod, name)
			}
			stack = append(stack, global{mod, name})
		case 0x93: // STACK_GLOBAL
			nv, ok1 := pop()
			mv, ok2 := pop()
			name, ok3 := nv.(string)
			mod, ok4 := mv.(string)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return nil, errAt(op, "STACK_GLOBAL needs two strings")
			}
			if !allowedGlobal(mod, name) {
				return nil, errAt(op, "global %s.%s is not allowed (a state-dict checkpoint uses only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch storage classes)", mod, name)
			}
			stack = append(stack, global{mod, name})
		case 'X', 0x8c: // BINUNICODE, SHORT_BINUNICODE
			var n int
			if c == 'X' {
				if !need(4) {
					return nil, errAt(op, "truncated")
				}
				n64 := binary.LittleEndian.Uint32(p[pos:])
				pos += 4
				if uint64(n64) > uint64(len(p)-pos) {
					return nil, errAt(op, "string of %d bytes runs past the end of the pickle", n64)
				}
				n = int(n64)
			} else {
				if !need(1) {
					return nil, errAt(op, "truncated")
				}
				n = int(p[pos])
				pos++
			}
			if !need(n) {
				return nil, errAt(op, "string of %d bytes runs past the end of the pickle", n)
			}
			stack = append(stack, string(p[pos:pos+n]))
			pos += n
		case 'J': // BININT
			if !need(4) {
				return nil, errAt(op, "truncated")
			}
			stack = append(stack, int64(int32(binary.LittleEndian.Uint32(p[pos:]))))
			pos += 4
		case 'K': // BININT1
			if !need(1) {
				return nil, errAt(op, "truncated")
			}
			stack = append(stack, int64(p[pos]))
			pos++
		case 'M': // BININT2
			if !need(2) {
				return nil, errAt(op, "truncated")
			}
			stack = append(stack, int64(binary.LittleEndian.Uint16(p[pos:])))
			pos += 2
		case 0x8a: // LONG1
			if !need(1) {
				return nil, errAt(op, "truncated")
			}
			n := int(p[pos])
			pos++
			if n > 8 {
				return nil, errAt(op, "integer of %d bytes is too large", n)
			}
			if !need(n) {
				return nil, errAt(op, "truncated")
			}
			var v uint64
			for i := n - 1; i >= 0; i-- {
				v = v<<8 | uint64(p[pos+i])
			}
			if n > 0 && n < 8 && p[pos+n-1]&0x80 != 0 { // sign-extend
				v |= ^uint64(0) << (8 * n)
			}
			stack = append(stack, int64(v))
			pos += n
		case 'G': // BINFLOAT
			if !need(8) {
				return nil, errAt(op, "truncated")
			}
			stack = append(stack, math.Float64frombits(binary.BigEndian.Uint64(p[pos:])))
			pos += 8
		case 'N':
			stack = append(stack, nil)
		case 0x88:
			stack = append(stack, true)
		case 0x89:
			stack = append(stack, false)
		case ')':
			stack = append(stack, tuple{})
		case 0x85, 0x86, 0x87: // TUPLE1..3
			k := int(c-0x85) + 1
			t := make(tuple, k)
			for i := k - 1; i >= 0; i-- {
				v, ok := pop()
				if !ok {
					return nil, errAt(op, "TUPLE%d with too few values", k)
				}
				t[i] = v
			}
			stack = append(stack, t)
		case 't': // TUPLE
			items, ok := popMark()
			if !ok {
				return nil, errAt(op, "TUPLE without MARK")
			}
			stack = append(stack, tuple(items))
		case '}':
			stack = append(stack, newODict())
		case ']':
			stack = append(stack, &list{})
		case 'a': // APPEND
			v, ok1 := pop()
			l, ok2 := top()
			lst, ok3 := l.(*list)
			if !ok1 || !ok2 || !ok3 {
				return nil, errAt(op, "APPEND needs a list")
			}
			lst.items = append(lst.items, v)
		case 'e': // APPENDS
			items, ok := popMark()
			l, ok2 := top()
			lst, ok3 := l.(*list)
			if !ok || !ok2 || !ok3 {
				return nil, errAt(op, "APPENDS needs a MARK and a list")
			}
			lst.items = append(lst.items, items...)
		case 's': // SETITEM
			v, ok1 := pop()
			k, ok2 := pop()
			d, ok3 := top()
			dict, ok4 := d.(*odict)
			if !ok1 || !ok2 || !ok3 || !ok4 {
				return nil, errAt(op, "SETITEM needs a dict, a key and a value")
			}
			if err := dict.set(k, v); err != nil {
				return nil, errAt(op, "%v", err)
			}
		case 'u': // SETITEMS
			items, ok := popMark()
			d, ok2 := top()
			dict, ok3 := d.(*odict)
			if !ok || !ok2 || !ok3 || len(items)%2 != 0 {
				return nil, errAt(op, "SETITEMS needs a MARK, a dict and key/value pairs")
			}
			for i := 0; i < len(items); i += 2 {
				if err := dict.set(items[i], items[i+1]); err != nil {
					return nil, errAt(op, "%v", err)
				}
			}
		case 'Q': // BINPERSID
			v, ok := pop()
			t, ok2 := v.(tuple)
			if !ok || !ok2 {
				return nil, errAt(op, "BINPERSID needs a tuple")
			}
			r, err := persistent(t)
			if err != nil {
				return nil, errAt(op, "%v", err)
			}
			stack = append(stack, r)
		case 'R': // REDUCE
			av, ok1 := pop()
			fv, ok2 := pop()
			args, ok3 := av.(tuple)
			fn, ok4 := fv.(global)
			if !ok1 || !ok2 || !ok3 {
				return nil, errAt(op, "REDUCE needs a callable and an argument tuple")
			}
			if !ok4 {
				return nil, errAt(op, "REDUCE of a %s is not allowed", typeName(fv))
			}
			r, err := reduce(fn, args)
			if err != nil {
				return nil, errAt(op, "%v", err)
			}
			stack = append(stack, r)
		case 'b': // BUILD
			state, ok1 := pop()
			obj, ok2 := top()
			if !ok1 || !ok2 {
				return nil, errAt(op, "BUILD needs an object and its state")
			}
			if _, ok := obj.(*odict); !ok {
				return nil, errAt(op, "BUILD of a %s is not allowed", typeName(obj))
			}
			if _, ok := state.(*odict); !ok {
				return nil, errAt(op, "BUILD of an OrderedDict with a %s state is not allowed", typeName(state))
			}
			// The state is the dict's attributes (_metadata): ignored.
		default:
			return nil, errAt(op, "opcode not allowed in a state-dict pickle")
		}
	}
	return nil, fmt.Errorf("pickle: no STOP opcode before the end (%d bytes)", len(p))
}

func readLine(p []byte, pos *int) (string, bool) {
	for i := *pos; i < len(p) && i < *pos+256; i++ {
		if p[i] == '\n' {
			s := string(p[*pos:i])
			*pos = i + 1
			return s, true
		}
	}
	return "", false
}

// reduce applies one of the allowed callables.
func reduce(fn global, args tuple) (any, error) {
	switch {
	case fn.module == "collections" && fn.name == "OrderedDict":
		if len(args) != 0 {
			return nil, fmt.Errorf("OrderedDict called with %d arguments, want none", len(args))
		}
		return newODict(), nil
	case fn.module == "torch._utils" && fn.name == "_rebuild_tensor_v2":
		return rebuildTensor(args)
	case fn.module == "torch._utils" && fn.name == "_rebuild_parameter":
		// (data, requires_grad, backward_hooks): the parameter's tensor.
		if len(args) != 3 {
			return nil, fmt.Errorf("_rebuild_parameter called with %d arguments, want 3", len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("_rebuild_parameter of a %s", typeName(args[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("REDUCE of %s.%s is not allowed", fn.module, fn.name)
}

// maxDims bounds a tensor's number of dimensions.
const maxDims = 16

func rebuildTensor(args tuple) (any, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 called with %d arguments, want 6 or 7", len(args))
	}
	st, ok := args[0].(storageRef)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: argument 0 is a %s, want a storage", typeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: bad storage offset %v", args[1])
	}
	ints := func(v any, what string) ([]int64, error) {
		t, ok := v.(tuple)
		if !ok || len(t) > maxDims {
			return nil, fmt.Errorf("_rebuild_tensor_v2: %s must be a tuple of at most %d ints, got %s", what, maxDims, typeName(v))
		}
		r := make([]int64, len(t))
		for i, e := range t {
			n, ok := e.(int64)
			if !ok || n < 0 {
				return nil, fmt.Errorf("_rebuild_tensor_v2: %s[%d] = %v is not a non-negative int", what, i, e)
			}
			r[i] = n
		}
		return r, nil
	}
	size, err := ints(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := ints(args[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %d sizes but %d strides", len(size), len(stride))
	}
	if _, ok := args[4].(bool); !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: requires_grad is a %s", typeName(args[4]))
	}
	if h, ok := args[5].(*odict); !ok || len(h.keys) != 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: backward hooks must be an empty OrderedDict")
	}
	if len(args) == 7 {
		if m, ok := args[6].(*odict); !(args[6] == nil || ok && len(m.keys) == 0) {
			return nil, fmt.Errorf("_rebuild_tensor_v2: tensor metadata must be empty")
		}
	}
	// The view must lie inside the storage and have no more elements than
	// it (a state dict never holds expanded views), so that what is
	// allocated is bounded by the bytes in the file.
	numel, last := int64(1), off
	for i := range size {
		if size[i] == 0 {
			numel = 0
			break
		}
		if size[i] > st.numel {
			return nil, fmt.Errorf("_rebuild_tensor_v2: size %v exceeds the storage's %d elements", size, st.numel)
		}
		numel *= size[i]
		if numel > st.numel {
			return nil, fmt.Errorf("_rebuild_tensor_v2: size %v exceeds the storage's %d elements", size, st.numel)
		}
		if stride[i] > st.numel {
			return nil, fmt.Errorf("_rebuild_tensor_v2: stride %v exceeds the storage's %d elements", stride, st.numel)
		}
		last += (size[i] - 1) * stride[i]
		if last >= st.numel {
			return nil, fmt.Errorf("_rebuild_tensor_v2: view (offset %d, size %v, stride %v) runs past the storage's %d elements", off, size, stride, st.numel)
		}
	}
	if numel > 0 && off >= st.numel {
		return nil, fmt.Errorf("_rebuild_tensor_v2: offset %d outside the storage's %d elements", off, st.numel)
	}
	return &tensorRef{storage: st, offset: off, size: size, stride: stride}, nil
}
