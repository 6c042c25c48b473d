package session

import "context"

func validKey(key string) bool { return len(key) > 0 && len(key) <= MaxKeyLen }

// Get returns the value stored under key in the request's session,
// converted to T. The first call in a request loads the session from the
// store.
//
// A value reads back as the Go type it was stored as; int and int64 are
// interchangeable. Values of other types were stored as JSON and are decoded
// into T, so a struct reads back as that struct with no registration. A value
// that does not decode into T is an error wrapping [ErrType] naming the key,
// the stored kind and T. As with encoding/json, Get[any] of a JSON value gives
// float64 for numbers and map[string]any for objects.
//
// It returns [ErrNotFound] when there is no value (including when the request
// has no session), [ErrInvalidKey] for a key that [Set] would refuse,
// [ErrNoMiddleware] outside [Manager.Middleware], and the store's error,
// wrapped, when the session cannot be loaded.
func Get[T any](ctx context.Context, key string) (T, error) {
	var zero T
	st := fromContext(ctx)
	if st == nil {
		return zero, ErrNoMiddleware
	}
	if !validKey(key) {
		return zero, ErrInvalidKey
	}
	tag, val, err := st.get(key)
	if err != nil {
		return zero, err
	}
	return decodeValue[T](key, tag, val)
}

// Set stores value under key in the request's session, to be saved just
// before the response starts. Storing the first value of an anonymous visitor
// creates the session: before that, nothing is written and no cookie is set.
//
// string, []byte, int, int64, float64 and bool are stored in a compact native
// form; other values are stored as JSON (see [Get]), so they must be
// encodable by encoding/json ([ErrType] otherwise). []byte values are copied.
//
// Set fails with [ErrTooLarge] when the encoded session would exceed
// [Config.MaxSize], with [ErrInvalidKey] for an empty key or one longer than
// [MaxKeyLen] bytes, with [ErrCrossOrigin] when it would create a session on a
// cross-origin unsafe request, and with [ErrCommitted] when it would create a
// session after the response started. On an existing session a Set after the
// response started is saved when the handler returns.
//
// Concurrent requests on the same session each merge their own changes onto
// the latest stored session, key by key: changes to different keys are never
// lost. When two requests set the same key, the one whose save lands last
// wins for that key.
func Set(ctx context.Context, key string, value any) error {
	st := fromContext(ctx)
	if st == nil {
		return ErrNoMiddleware
	}
	if !validKey(key) {
		return ErrInvalidKey
	}
	tag, val, err := encodeValue(value)
	if err != nil {
		return err
	}
	return st.change(op{key: key, kind: opSet, tag: tag, val: val})
}

// Delete removes key from the request's session. Deleting an absent key is
// not an error. A delete is merged like a [Set]: a concurrent request's Set of
// the same key that saves later wins.
func Delete(ctx context.Context, key string) error {
	st := fromContext(ctx)
	if st == nil {
		return ErrNoMiddleware
	}
	if !validKey(key) {
		return ErrInvalidKey
	}
	return st.change(op{key: key, kind: opDel})
}

// Pop returns the value under key, converted to T as [Get] does, and removes
// it: a flash message. The removal is conditional — it happens only if the
// stored value is still the one read — so a new flash stored by a concurrent
// request is kept for the next one. Two concurrent requests can both see the
// same flash. A value that does not decode into T is left in place.
func Pop[T any](ctx context.Context, key string) (T, error) {
	var out T
	st := fromContext(ctx)
	if st == nil {
		return out, ErrNoMiddleware
	}
	if !validKey(key) {
		return out, ErrInvalidKey
	}
	err := st.pop(key, func(tag byte, val []byte) (err error) {
		out, err = decodeValue[T](key, tag, val)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
