package jwt

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"time"
)

// Claims are the registered claims of a verified token. A Verifier may hand
// the same Claims to several callers (from its cache): treat it, and its
// slices, as read-only.
type Claims struct {
	Issuer    string    // iss; "" when absent
	Subject   string    // sub; always present
	Audience  []string  // aud; nil when absent
	ExpiresAt time.Time // exp; always present
	NotBefore time.Time // nbf; zero when absent
	IssuedAt  time.Time // iat, to the millisecond; always present
	AuthTime  time.Time // auth_time; zero when absent
	ID        string    // jti; "" when absent
	Scopes    []string  // the space-separated scope claim, split; nil when absent
	FamilyID  string    // fid: the refresh family the token was issued from; "" when absent
	KeyID     string    // the kid of the key that verified the token
}

// VerifyClaims is [Verifier.Verify] that also decodes the claims set into a
// value of the caller's type C (a struct with json tags, or a map) with
// encoding/json. A claims set that does not decode into C is an error
// matching ErrMalformed. When C holds no pointers, maps, slices or
// interfaces, the decoded value is cached with the token; otherwise it is
// decoded afresh on every call, so the caller owns what it gets.
func VerifyClaims[C any](ctx context.Context, v *Verifier, token string) (*Claims, C, error) {
	var zero C
	e, err := v.check(ctx, token, false)
	if err != nil {
		return nil, zero, err
	}
	if cv := e.custom.Load(); cv != nil {
		if c, ok := cv.v.(C); ok {
			return &e.claims, c, nil
		}
	}
	var c C
	if err := json.Unmarshal([]byte(e.payload), &c); err != nil {
		v.emitRejected(ctx, errCustomClaims, e.claims.Subject)
		return nil, zero, errCustomClaims
	}
	if flatType(reflect.TypeFor[C]()) {
		e.custom.Store(&customValue{v: c})
	}
	return &e.claims, c, nil
}

// flatType reports whether values of t hold no references, so a copy shares
// nothing with the original.
func flatType(t reflect.Type) bool {
	if v, ok := flatTypes.Load(t); ok {
		return v.(bool)
	}
	ok := flatKind(t, 0)
	flatTypes.Store(t, ok)
	return ok
}

var flatTypes sync.Map // reflect.Type → bool

func flatKind(t reflect.Type, depth int) bool {
	if depth > 16 {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	case reflect.Array:
		return flatKind(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if !flatKind(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
