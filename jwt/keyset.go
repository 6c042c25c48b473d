package jwt

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// KeySource is where a [Verifier] finds its keys: a [*KeySet] held in
// process, or a [*RemoteKeySet] fetched from another issuer's JWKS URL.
type KeySource interface {
	// current returns the keys to verify with now.
	current() (*keyIndex, error)
	// miss is called when a token names a kid that current does not hold. A
	// remote source may refetch (rate-limited) and return a newer index; it
	// returns nil when it has nothing newer.
	miss(ctx context.Context) *keyIndex
}

// keyIndex is an immutable view of a key source.
type keyIndex struct {
	byKID map[string]*Key
	// alts holds the further keys under a kid: the same material with
	// other algorithms (a remote RSA key published without alg, see
	// RemoteConfig.RSAWithoutAlg). Nil when there are none.
	alts map[string][]*Key
	only *Key   // the first key, when all keys share one kid
	list []*Key // in insertion order
	// gen changes whenever a key is removed or the source's set is
	// replaced; the verified-token cache drops entries of older generations.
	gen uint64
}

var generations atomic.Uint64

func newGeneration() uint64 { return generations.Add(1) }

func (x *keyIndex) lookup(kid string, hasKID bool) (*Key, *rejection) {
	if !hasKID {
		if x.only != nil {
			return x.only, nil
		}
		if len(x.list) == 0 {
			return nil, errNoKeys
		}
		return nil, errNeedKID
	}
	if k, ok := x.byKID[kid]; ok {
		return k, nil
	}
	return nil, errUnknownKID
}

// forAlg returns the key under k's kid that verifies tokens whose header
// alg is alg — k itself, or one of its alternates — or nil.
func (x *keyIndex) forAlg(k *Key, alg string) *Key {
	if k.alg.verifies(alg) {
		return k
	}
	for _, a := range x.alts[k.kid] {
		if a.alg.verifies(alg) {
			return a
		}
	}
	return nil
}

func buildIndex(keys []*Key, gen uint64) *keyIndex {
	x := &keyIndex{byKID: make(map[string]*Key, len(keys)), list: keys, gen: gen}
	for _, k := range keys {
		if _, dup := x.byKID[k.kid]; dup {
			if x.alts == nil {
				x.alts = map[string][]*Key{}
			}
			x.alts[k.kid] = append(x.alts[k.kid], k)
			continue
		}
		x.byKID[k.kid] = k
	}
	if len(x.byKID) == 1 {
		x.only = keys[0]
	}
	return x
}

// KeySet holds the keys of one issuer: one signing key and any number of
// verify-only keys, each with its own kid and algorithm. It is safe for
// concurrent use; reads take no lock.
//
// # Rotation
//
// Rotation without downtime has three steps, each safe to run on a live
// server:
//
//  1. [KeySet.Add] the new key. It verifies but does not sign yet, and
//     appears in [KeySet.JWKS] so that remote verifiers can fetch it before
//     any token uses it (wait at least the JWKS max-age).
//  2. [KeySet.Rotate] to it. New tokens carry its kid; the old key stays
//     verify-only, so tokens it signed keep working.
//  3. Once the longest-lived token signed by the old key has expired,
//     [KeySet.Retire] it. Tokens it signed are refused from then on, even
//     if a Verifier had cached them.
//
// Across several processes, keep the keys in files or environment variables
// (see [ParseKey]) and run the same steps on every process, for example by
// loading "next", "current" and "previous" keys at startup and restarting
// them one by one after each change.
type KeySet struct {
	mu        sync.Mutex // serializes writers
	state     atomic.Pointer[keySetState]
	jwks      atomic.Pointer[jwksDoc]
	onUnknown atomic.Pointer[func(context.Context) bool]
}

type keySetState struct {
	signing *Key
	idx     *keyIndex
}

type jwksDoc struct {
	state *keySetState
	body  []byte
	etag  string
}

// NewKeySet returns a key set whose signing key is signing, with others as
// verify-only keys. signing may be nil for a set that only verifies (for
// example, public keys of another service); otherwise it must be able to
// sign. Key IDs must be distinct: a repeat is an error wrapping
// [ErrInvalidKey].
func NewKeySet(signing *Key, others ...*Key) (*KeySet, error) {
	var keys []*Key
	if signing != nil {
		if !signing.CanSign() {
			return nil, fmt.Errorf("%w: the signing key %q holds no private key", ErrInvalidKey, signing.kid)
		}
		keys = append(keys, signing)
	}
	seen := map[string]bool{}
	if signing != nil {
		seen[signing.kid] = true
	}
	for _, k := range others {
		if k == nil {
			return nil, fmt.Errorf("%w: nil key", ErrInvalidKey)
		}
		if seen[k.kid] {
			return nil, fmt.Errorf("%w: kid %q appears twice", ErrInvalidKey, k.kid)
		}
		seen[k.kid] = true
		keys = append(keys, k)
	}
	s := &KeySet{}
	s.state.Store(&keySetState{signing: signing, idx: buildIndex(keys, newGeneration())})
	return s, nil
}

func (s *KeySet) current() (*keyIndex, error) { return s.state.Load().idx, nil }
func (s *KeySet) miss(ctx context.Context) *keyIndex {
	if f := s.onUnknown.Load(); f != nil && (*f)(ctx) {
		return s.state.Load().idx
	}
	return nil
}

// OnUnknownKID sets f to be called by a [Verifier] when a token names a kid
// the set does not hold, before the token is refused. If f returns true —
// it has added keys to the set — the verifier looks the kid up once more.
// f runs on the request path for every such token, forged ones included, so
// it must be cheap or rate-limited. A key manager shared by several servers
// (package github.com/authkit/authkit/keyring) uses it to load at once a key
// that another server has just added. Nil removes the hook.
func (s *KeySet) OnUnknownKID(f func(ctx context.Context) bool) {
	if f == nil {
		s.onUnknown.Store(nil)
		return
	}
	s.onUnknown.Store(&f)
}

// SigningKey returns the key new tokens are signed with, or nil if the set
// only verifies.
func (s *KeySet) SigningKey() *Key { return s.state.Load().signing }

// Key returns the key with the given kid.
func (s *KeySet) Key(kid string) (*Key, bool) {
	k, ok := s.state.Load().idx.byKID[kid]
	return k, ok
}

// Keys returns every key, the signing key first.
func (s *KeySet) Keys() []*Key {
	return append([]*Key(nil), s.state.Load().idx.list...)
}

// Add adds k as a verify-only key. Adding a kid the set already holds is an
// error wrapping [ErrInvalidKey].
func (s *KeySet) Add(k *Key) error {
	if k == nil {
		return fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.Load()
	if _, dup := st.idx.byKID[k.kid]; dup {
		return fmt.Errorf("%w: kid %q is already in the set", ErrInvalidKey, k.kid)
	}
	keys := append(append([]*Key(nil), st.idx.list...), k)
	// Adding a key invalidates nothing: the generation stays.
	s.state.Store(&keySetState{signing: st.signing, idx: buildIndex(keys, st.idx.gen)})
	return nil
}

// Rotate makes k the signing key, adding it first if the set does not hold
// its kid (a verify-only key with k's kid and material is replaced by k).
// The previous signing key stays as a verify-only key. k must be able to
// sign; a kid the set holds with other material is an error wrapping
// [ErrInvalidKey].
func (s *KeySet) Rotate(k *Key) error {
	if k == nil || !k.CanSign() {
		return fmt.Errorf("%w: the new signing key holds no private key", ErrInvalidKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.Load()
	var keys []*Key
	if cur, ok := st.idx.byKID[k.kid]; ok {
		if cur != k && !sameKey(cur, k) {
			return fmt.Errorf("%w: kid %q is already in the set with another key", ErrInvalidKey, k.kid)
		}
		keys = append(keys, k)
		for _, o := range st.idx.list {
			if o != cur {
				keys = append(keys, o)
			}
		}
	} else {
		keys = append(append(keys, k), st.idx.list...)
	}
	s.state.Store(&keySetState{signing: k, idx: buildIndex(keys, st.idx.gen)})
	return nil
}

// sameKey reports whether a and b are the same key material with the same
// algorithm (one may be the public half of the other).
func sameKey(a, b *Key) bool {
	if a.alg != b.alg {
		return false
	}
	if a.info.kind == kindHMAC {
		return bytes.Equal(a.secret, b.secret)
	}
	pa, ok := a.public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b.public)
}

// Retire removes the key with the given kid: tokens it signed are refused
// from now on, including tokens a [Verifier] had already verified and
// cached. Retiring the signing key is an error wrapping [ErrKeyInUse];
// retiring an unknown kid does nothing.
func (s *KeySet) Retire(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.Load()
	if st.signing != nil && st.signing.kid == kid {
		return fmt.Errorf("%w: rotate to another key before retiring %q", ErrKeyInUse, kid)
	}
	if _, ok := st.idx.byKID[kid]; !ok {
		return nil
	}
	keys := make([]*Key, 0, len(st.idx.list)-1)
	for _, k := range st.idx.list {
		if k.kid != kid {
			keys = append(keys, k)
		}
	}
	s.state.Store(&keySetState{signing: st.signing, idx: buildIndex(keys, newGeneration())})
	return nil
}

// JWKS returns the JSON Web Key Set (RFC 7517) of the public keys: every
// asymmetric key, signing and verify-only, each with kid, alg and use "sig".
// HMAC keys are never included.
func (s *KeySet) JWKS() ([]byte, error) {
	d, err := s.jwksDoc()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), d.body...), nil
}

func (s *KeySet) jwksDoc() (*jwksDoc, error) {
	st := s.state.Load()
	if d := s.jwks.Load(); d != nil && d.state == st {
		return d, nil
	}
	set := jwk.NewSet()
	for _, k := range st.idx.list {
		if jk := k.PublicJWK(); jk != nil {
			if err := set.AddKey(jk); err != nil {
				return nil, fmt.Errorf("jwt: building JWKS: %w", err)
			}
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jwt: encoding JWKS: %w", err)
	}
	sum := sha256.Sum256(body)
	d := &jwksDoc{state: st, body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
	s.jwks.Store(d)
	return d, nil
}

// DefaultJWKSMaxAge is the Cache-Control max-age of [KeySet.JWKSHandler]
// when it is given zero.
const DefaultJWKSMaxAge = 5 * time.Minute

// JWKSHandler returns an http.Handler that serves [KeySet.JWKS], typically at
// /.well-known/jwks.json. Responses carry Content-Type
// application/jwk-set+json, Cache-Control "public, max-age=N" (maxAge, or
// DefaultJWKSMaxAge when zero) and a strong ETag; a request whose
// If-None-Match matches gets 304. Methods other than GET and HEAD get 405.
//
// Add a new key maxAge or more before rotating to it, so that every remote
// verifier has refreshed its copy by the time the first token uses it.
func (s *KeySet) JWKSHandler(maxAge time.Duration) http.Handler {
	if maxAge < 0 {
		panic("jwt: negative JWKS max-age")
	}
	if maxAge == 0 {
		maxAge = DefaultJWKSMaxAge
	}
	cc := "public, max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		d, err := s.jwksDoc()
		if err != nil {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", cc)
		h.Set("ETag", d.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if etagMatch(r.Header.Get("If-None-Match"), d.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Content-Length", strconv.Itoa(len(d.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(d.body)
		}
	})
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110
// §13.1.2) against one strong ETag.
func etagMatch(header, etag string) bool {
	for header != "" {
		var v string
		i := 0
		for i < len(header) && header[i] != ',' {
			i++
		}
		v, header = header[:i], header[min(i+1, len(header)):]
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v = v[1:]
		}
		for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		if v == "*" || v == etag || v == "W/"+etag {
			return true
		}
	}
	return false
}
