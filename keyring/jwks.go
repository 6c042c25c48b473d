package keyring

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// minJWKSMaxAge is the shortest max-age the JWKS handler advertises, however
// close the next change.
const minJWKSMaxAge = time.Second

// jwksCache holds the last JWKS document built, with the versions of the
// purposes it was built from.
type jwksCache struct {
	mu       sync.Mutex
	versions []uint64
	body     []byte
	etag     string
}

// JWKSHandler returns an http.Handler serving the public keys of every
// loaded JWT purpose with a public-key algorithm as one JSON Web Key Set
// (RFC 7517), typically at /.well-known/jwks.json: published, signing and
// verify-only keys, never a revoked key and never an HMAC key.
//
// Its Cache-Control max-age follows the schedule: at most Config.JWKSMaxAge,
// which every Schedule.Prepublish exceeds by the reload interval, and no
// later than the next scheduled change of the set (a key due to be added or
// removed), but at least one second. A verifier that caches the set for the
// advertised time therefore has every key before any token uses it. Responses
// carry a strong ETag and honour If-None-Match; methods other than GET and
// HEAD get 405.
func (kr *Keyring) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		body, etag, maxAge, err := kr.jwksDocument()
		if err != nil {
			kr.logger.Error("keyring: building the JWKS failed", slogErr(err))
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64(maxAge/time.Second), 10))
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}

// JWKSMaxAge returns the max-age [Keyring.JWKSHandler] advertises now.
func (kr *Keyring) JWKSMaxAge() time.Duration {
	_, _, d, _ := kr.jwksDocument()
	return d
}

// jwksDocument returns the merged JWKS, its ETag and the max-age to
// advertise, rebuilding the document when a purpose's keys changed.
func (kr *Keyring) jwksDocument() ([]byte, string, time.Duration, error) {
	var rings []*ring
	for _, r := range *kr.rings.Load() {
		if r.kind == kindJWT && !r.alg.Symmetric() {
			rings = append(rings, r)
		}
	}
	now := kr.cfg.Now()
	maxAge := kr.cfg.JWKSMaxAge
	versions := make([]uint64, len(rings))
	for i, r := range rings {
		versions[i] = r.version.Load()
		if t := r.jwksChange(now); !t.IsZero() {
			maxAge = min(maxAge, max(t.Sub(now), minJWKSMaxAge))
		}
	}
	c := &kr.jwks
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && slices.Equal(c.versions, versions) {
		return c.body, c.etag, maxAge, nil
	}
	keys := []json.RawMessage{}
	for _, r := range rings {
		b, err := r.keys.JWKS()
		if err != nil {
			return nil, "", 0, err
		}
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(b, &set); err != nil {
			return nil, "", 0, fmt.Errorf("keyring: reading the JWKS of %s: %w", r.name, err)
		}
		keys = append(keys, set.Keys...)
	}
	body, err := json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
	if err != nil {
		return nil, "", 0, fmt.Errorf("keyring: encoding the JWKS: %w", err)
	}
	sum := sha256.Sum256(body)
	c.versions, c.body, c.etag = versions, body, `"`+base64.RawURLEncoding.EncodeToString(sum[:16])+`"`
	return c.body, c.etag, maxAge, nil
}

// jwksChange returns the next time the published keys of r change by the
// schedule — a key due to be added, or removed — or the zero time.
func (r *ring) jwksChange(now time.Time) time.Time {
	rec := r.view.Load()
	ms := now.UnixMilli()
	next := int64(0)
	for _, t := range append([]int64{rec.rotationDue(r.plan)}, removals(rec)...) {
		if t > ms && (next == 0 || t < next) {
			next = t
		}
	}
	return msTime(next)
}

func removals(rec *record) []int64 {
	var ts []int64
	for _, e := range rec.keys {
		if !e.isRevoked() && e.removes != 0 {
			ts = append(ts, e.removes)
		}
	}
	return ts
}

// etagMatch implements the weak comparison of If-None-Match (RFC 9110
// §13.1.2) against one strong ETag.
func etagMatch(header, etag string) bool {
	for v := range strings.SplitSeq(header, ",") {
		v = strings.Trim(v, " \t")
		if v == "*" || v == etag || v == "W/"+etag {
			return true
		}
	}
	return false
}
