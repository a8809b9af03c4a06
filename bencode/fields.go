package bencode

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// field is one struct field that has a bencode key.
type field struct {
	key       string // dictionary key
	index     int    // index of the field in its struct
	omitEmpty bool   // leave out zero values when encoding
}

// structFields lists a struct type's fields in key order, the order in
// which BEP 3 requires dictionary keys to be written.
type structFields struct {
	list   []field
	byKey  map[string]int // key -> position in list
	hasErr error          // a tag problem found while building, e.g. a duplicate key
}

var fieldCache sync.Map // reflect.Type -> *structFields

// cachedFields returns the bencode fields of struct type t.
func cachedFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, buildFields(t))
	return f.(*structFields)
}

func buildFields(t reflect.Type) *structFields {
	sf := &structFields{byKey: make(map[string]int)}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("bencode")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fl := field{key: name, index: i}
		for _, o := range strings.Split(opts, ",") {
			if o == "omitempty" {
				fl.omitEmpty = true
			}
		}
		sf.list = append(sf.list, fl)
	}
	sort.SliceStable(sf.list, func(a, b int) bool { return sf.list[a].key < sf.list[b].key })
	for i, fl := range sf.list {
		if _, dup := sf.byKey[fl.key]; dup {
			sf.hasErr = fmt.Errorf("bencode: struct %s has two fields with key %q", t, fl.key)
		}
		sf.byKey[fl.key] = i
	}
	return sf
}
