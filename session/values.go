package session

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// encodeValue turns v into a tagged byte form. string, []byte, int, int64,
// float64 and bool get compact native encodings; anything else is encoded
// with encoding/json, so no type registration is needed and the stored form
// is readable by any language.
func encodeValue(v any) (byte, []byte, error) {
	switch x := v.(type) {
	case string:
		return tagString, []byte(x), nil
	case []byte:
		return tagBytes, append([]byte(nil), x...), nil
	case int:
		return tagInt, binary.AppendVarint(nil, int64(x)), nil
	case int64:
		return tagInt, binary.AppendVarint(nil, x), nil
	case float64:
		return tagFloat, binary.LittleEndian.AppendUint64(nil, math.Float64bits(x)), nil
	case bool:
		if x {
			return tagBool, []byte{1}, nil
		}
		return tagBool, []byte{0}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: cannot encode %T: %w", ErrType, v, err)
	}
	return tagJSON, b, nil
}

// tagName describes a tag in error messages.
func tagName(tag byte) string {
	switch tag {
	case tagString:
		return "string"
	case tagBytes:
		return "[]byte"
	case tagInt:
		return "int"
	case tagFloat:
		return "float64"
	case tagBool:
		return "bool"
	}
	return "JSON value"
}

// decodeValue converts a stored value to T.
//
// When T is the Go type the value was stored as (int and int64 are
// interchangeable), the native form is decoded directly. When T is any, the
// native Go value comes back (string, []byte, int64, float64, bool), or for
// JSON-encoded values whatever encoding/json produces for an any. Otherwise
// the value is decoded with encoding/json into T — so a value stored as a
// struct reads back as that struct, a named string type as itself, an int as
// an int32 — and a value that does not decode into T is an error wrapping
// [ErrType].
//
// It is one function over 80 lines on purpose: one type switch with a case
// per native type, each the same three steps (native tag: decode; JSON
// tag: fall through to encoding/json; other tag: refuse). Split up, the
// rule each case follows would be spread over several functions.
func decodeValue[T any](key string, tag byte, val []byte) (T, error) {
	var v T
	switch p := any(&v).(type) {
	case *string:
		if tag == tagString {
			*p = string(val)
			return v, nil
		}
		if tag != tagJSON {
			return v, typeError[T](key, tag)
		}
	case *[]byte:
		if tag == tagBytes {
			*p = append([]byte{}, val...)
			return v, nil
		}
		if tag != tagJSON {
			return v, typeError[T](key, tag)
		}
	case *int:
		if tag == tagInt {
			x, _ := binary.Varint(val)
			if int64(int(x)) != x {
				return v, typeError[T](key, tag)
			}
			*p = int(x)
			return v, nil
		}
		if tag != tagJSON {
			return v, typeError[T](key, tag)
		}
	case *int64:
		if tag == tagInt {
			*p, _ = binary.Varint(val)
			return v, nil
		}
		if tag != tagJSON {
			return v, typeError[T](key, tag)
		}
	case *float64:
		if tag == tagFloat {
			*p = math.Float64frombits(binary.LittleEndian.Uint64(val))
			return v, nil
		}
		if tag != tagJSON {
			return v, typeError[T](key, tag)
		}
	case *bool:
		if tag == tagBool {
			*p = val[0] == 1
			return v, nil
		}
		if tag != tagJSON {
			return v, typeError[T](key, tag)
		}
	case *any:
		switch tag {
		case tagString:
			*p = string(val)
			return v, nil
		case tagBytes:
			*p = append([]byte{}, val...)
			return v, nil
		case tagInt:
			x, _ := binary.Varint(val)
			*p = x
			return v, nil
		case tagFloat:
			*p = math.Float64frombits(binary.LittleEndian.Uint64(val))
			return v, nil
		case tagBool:
			*p = val[0] == 1
			return v, nil
		}
	}
	if tag == tagBytes {
		// JSON would turn bytes into base64 text: refuse instead.
		return v, typeError[T](key, tag)
	}
	js := val
	if tag != tagJSON {
		if js = nativeJSON(tag, val); js == nil {
			return v, typeError[T](key, tag)
		}
	}
	if err := json.Unmarshal(js, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("%w: %q holds %s that does not decode into %s: %w",
			ErrType, key, article(tagName(tag)), typeName[T](), err)
	}
	return v, nil
}

// nativeJSON renders a natively encoded value as JSON, for decoding into a
// type other than the one it was stored as (a named string type, an int32).
func nativeJSON(tag byte, val []byte) []byte {
	switch tag {
	case tagString:
		b, _ := json.Marshal(string(val))
		return b
	case tagInt:
		x, _ := binary.Varint(val)
		return strconv.AppendInt(nil, x, 10)
	case tagFloat:
		b, err := json.Marshal(math.Float64frombits(binary.LittleEndian.Uint64(val)))
		if err != nil { // NaN and infinities have no JSON form
			return nil
		}
		return b
	case tagBool:
		return strconv.AppendBool(nil, val[0] == 1)
	}
	return nil
}

func typeError[T any](key string, tag byte) error {
	return fmt.Errorf("%w: %q holds %s, not %s", ErrType, key, article(tagName(tag)), article(typeName[T]()))
}

// article prefixes a type name with "a" or "an".
func article(s string) string {
	if s != "" && strings.IndexByte("aeiouAEIOU", s[0]) >= 0 {
		return "an " + s
	}
	return "a " + s
}

func typeName[T any]() string {
	return reflect.TypeFor[T]().String()
}
