package bencode

import "reflect"

func (d *decodeState) dict(v reflect.Value) error {
	start := d.off
	switch {
	case isEmptyInterface(v):
		m := make(map[string]any)
		err := d.dictItems(func(key []byte) (reflect.Value, func()) {
			var item any
			elem := reflect.ValueOf(&item).Elem()
			return elem, func() { m[string(key)] = item }
		})
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(m))
		return nil
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		keyType, elemType := v.Type().Key(), v.Type().Elem()
		return d.dictItems(func(key []byte) (reflect.Value, func()) {
			elem := reflect.New(elemType).Elem()
			return elem, func() { v.SetMapIndex(reflect.ValueOf(string(key)).Convert(keyType), elem) }
		})
	case v.Kind() == reflect.Struct:
		fields := cachedFields(v.Type())
		if fields.hasErr != nil {
			return fields.hasErr
		}
		return d.dictItems(func(key []byte) (reflect.Value, func()) {
			i, ok := fields.byKey[string(key)]
			if !ok {
				return reflect.Value{}, nil
			}
			return v.Field(fields.list[i].index), nil
		})
	}
	return d.mismatch(start, "dict", v.Type(), "")
}

// dictItems decodes each entry of the dictionary at d.off. For each key,
// target returns where to decode the value (an invalid Value skips it) and
// an optional function to call once the value is decoded.
func (d *decodeState) dictItems(target func(key []byte) (reflect.Value, func())) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.off++ // 'd'
	var prev []byte
	for first := true; ; first = false {
		if d.off >= len(d.data) {
			return d.eof()
		}
		if d.data[d.off] == 'e' {
			d.off++
			d.leave()
			return nil
		}
		keyOff := d.off
		key, err := d.scanKey()
		if err != nil {
			return err
		}
		if err := d.checkKey(prev, key, first, keyOff); err != nil {
			return err
		}
		prev = key
		v, done := target(key)
		if !v.IsValid() {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		d.keys = append(d.keys, key)
		err = d.value(v)
		d.keys = d.keys[:len(d.keys)-1]
		if err != nil {
			return err
		}
		if done != nil {
			done()
		}
	}
}
