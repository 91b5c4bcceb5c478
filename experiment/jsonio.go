package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/lenscore/lenscore/weights"
)

// WriteJSON writes v, indented, to path atomically. Non-finite floats
// (NaN for an undefined statistic, ±Inf) are written as null, which
// encoding/json would otherwise refuse.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(finite(reflect.ValueOf(v)), "", "  ")
	if err != nil {
		return fmt.Errorf("experiment: %s: %w", path, err)
	}
	b = append(b, '\n')
	if err := weights.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	return nil
}

// finite converts v into plain maps, slices and values with every
// non-finite float replaced by nil. Struct fields keep their json names
// ("-" skips a field).
func finite(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return finite(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finite(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = finite(it.Value())
		}
		return out
	case reflect.Struct:
		out := make(map[string]any)
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, ok := f.Tag.Lookup("json"); ok {
				tn, _, _ := strings.Cut(tag, ",")
				if tn == "-" {
					continue
				}
				if tn != "" {
					name = tn
				}
			}
			out[name] = finite(v.Field(i))
		}
		return out
	default:
		return v.Interface()
	}
}
