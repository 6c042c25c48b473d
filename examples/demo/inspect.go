package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// This file holds what the demo shows and nothing else needs: captured
// Set-Cookie headers, annotated decodings of records and cookies, hex
// dumps, and the read-only /demo/inspect endpoint of the token and JWT
// panels. A real application has none of it.

// abbrev shows the start of a secret and hides the rest.
func abbrev(s string) string {
	if len(s) <= 12 {
		return s
	}
	return s[:8] + "…"
}

// redactSetCookie returns a Set-Cookie line with its value abbreviated.
func redactSetCookie(line string) string {
	name, rest, ok := strings.Cut(line, "=")
	if !ok {
		return line
	}
	value, attrs, _ := strings.Cut(rest, ";")
	out := name + "=" + abbrev(value)
	if attrs != "" {
		out += ";" + attrs
	}
	return out
}

// showCookieKey is the store key under which the demo keeps the redacted
// Set-Cookie line that delivered a cookie, found again from the cookie the
// browser sends back.
func showCookieKey(name, value string) string { return storeKey("demo:setcookie:", name+"="+value) }

// showCookies is middleware for the page's benefit. It records the
// Set-Cookie lines of the session and sealed-cookie logins, redacted, so
// that the page can show the header that delivered the cookie; and, for
// requests of the page's script (X-Demo-Trace: 1), it copies the redacted
// Set-Cookie lines into X-Demo-Set-Cookie, a header that scripts may read
// (Set-Cookie itself is hidden from them).
func (s *server) showCookies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &cookieWatcher{ResponseWriter: w, s: s, r: r}
		next.ServeHTTP(cw, r)
		cw.capture()
	})
}

type cookieWatcher struct {
	http.ResponseWriter
	s    *server
	r    *http.Request
	done bool
}

func (c *cookieWatcher) capture() {
	if c.done {
		return
	}
	c.done = true
	lines := c.Header().Values("Set-Cookie")
	if len(lines) == 0 {
		return
	}
	var redacted []string
	for _, line := range lines {
		redacted = append(redacted, redactSetCookie(line))
		ck, err := http.ParseSetCookie(line)
		if err != nil || ck.Value == "" || ck.MaxAge < 0 {
			continue
		}
		if ck.Name != demoCookieName && ck.Name != session.DefaultCookieName {
			continue
		}
		err = c.s.st.Set(c.r.Context(), showCookieKey(ck.Name, ck.Value), []byte(redactSetCookie(line)), c.s.now().Add(24*time.Hour))
		if err != nil {
			c.s.log.Warn("recording a Set-Cookie line for display", "err", err)
		}
	}
	if c.r.Header.Get("X-Demo-Trace") == "1" {
		// Header values are bytes, read as Latin-1 by browsers: keep the
		// JSON in ASCII.
		b, _ := json.Marshal(redacted)
		c.Header().Set("X-Demo-Set-Cookie", strings.ReplaceAll(string(b), "…", `\u2026`))
	}
}

func (c *cookieWatcher) WriteHeader(code int) {
	c.capture()
	c.ResponseWriter.WriteHeader(code)
}

func (c *cookieWatcher) Write(b []byte) (int, error) {
	c.capture()
	return c.ResponseWriter.Write(b)
}

func (c *cookieWatcher) Flush() {
	c.capture()
	http.NewResponseController(c.ResponseWriter).Flush()
}

func (c *cookieWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

func (c *cookieWatcher) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// field is one annotated part of an encoded value: its bytes, what it is,
// and what it says.
type field struct {
	Hex   string
	Name  string
	Value string
}

func hexField(b []byte, max int) string {
	if len(b) > max {
		return hex.EncodeToString(b[:max]) + "…"
	}
	return hex.EncodeToString(b)
}

func fmtTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// decodeSessionRecord annotates a session record as the session package
// documents it (version 1): version, flags, created, touched, idle timeout,
// absolute deadline, [auth time, subject], and the data entries. It is for
// display only and refuses anything it does not fully understand.
func decodeSessionRecord(b []byte) ([]field, error) {
	if len(b) < 2 || len(b) > store.MaxValueSize {
		return nil, errors.New("too short or too long")
	}
	if b[0] != 1 {
		return nil, fmt.Errorf("record version %d is not the one this demo knows", b[0])
	}
	out := []field{{hexField(b[:1], 8), "version", "1"}}
	flags := b[1]
	if flags&^3 != 0 {
		return nil, errors.New("unknown flags")
	}
	var fl []string
	if flags&1 != 0 {
		fl = append(fl, "remember-me")
	}
	if flags&2 != 0 {
		fl = append(fl, "logged in")
	}
	out = append(out, field{hexField(b[1:2], 8), "flags", strings.Join(append(fl, ""), " ")})
	p := b[2:]
	varint := func(name string, signed bool, show func(int64) string) (int64, bool) {
		var v int64
		var n int
		if signed {
			v, n = binary.Varint(p)
		} else {
			var u uint64
			u, n = binary.Uvarint(p)
			if u > 1<<62 {
				return 0, false
			}
			v = int64(u)
		}
		if n <= 0 {
			return 0, false
		}
		out = append(out, field{hexField(p[:n], 16), name, show(v)})
		p = p[n:]
		return v, true
	}
	ts := func(v int64) string {
		if v <= 0 || v > 253402300799999 {
			return strconv.FormatInt(v, 10)
		}
		return fmtTime(v)
	}
	for _, f := range []struct {
		name   string
		signed bool
		show   func(int64) string
	}{
		{"created", true, ts},
		{"last extended", true, ts},
		{"idle timeout", false, func(v int64) string { return ago(time.Duration(v) * time.Millisecond) }},
		{"absolute deadline", true, ts},
	} {
		if _, ok := varint(f.name, f.signed, f.show); !ok {
			return nil, errors.New("truncated header")
		}
	}
	bytesField := func(name string, max int, show func([]byte) string) bool {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(max) || l > uint64(len(p)-n) {
			return false
		}
		v := p[n : n+int(l)]
		out = append(out, field{hexField(p[:n], 8) + " " + hexField(v, 24), name, show(v)})
		p = p[n+int(l):]
		return true
	}
	quote := func(v []byte) string {
		if len(v) > 64 {
			return strconv.Quote(string(v[:64])) + "…"
		}
		return strconv.Quote(string(v))
	}
	if flags&2 != 0 {
		if _, ok := varint("auth time", true, ts); !ok {
			return nil, errors.New("truncated auth time")
		}
		if !bytesField("subject", 1024, quote) {
			return nil, errors.New("bad subject")
		}
	}
	count, ok := varint("entries", false, func(v int64) string { return strconv.FormatInt(v, 10) })
	if !ok || count > int64(len(p)/4) {
		return nil, errors.New("bad entry count")
	}
	for range count {
		if !bytesField("key", 255, quote) || len(p) == 0 {
			return nil, errors.New("bad entry key")
		}
		tag := p[0]
		out = append(out, field{hexField(p[:1], 1), "type", map[byte]string{'s': "string", 'b': "bytes", 'i': "int", 'f': "float", 't': "bool", 'j': "JSON"}[tag]})
		p = p[1:]
		show := quote
		switch tag {
		case 'i':
			show = func(v []byte) string { x, _ := binary.Varint(v); return strconv.FormatInt(x, 10) }
		case 'b':
			show = func(v []byte) string { return hexField(v, 32) }
		case 't':
			show = func(v []byte) string { return strconv.FormatBool(len(v) == 1 && v[0] == 1) }
		case 'j':
			show = func(v []byte) string {
				if len(v) > 64 || !utf8.Valid(v) {
					return quote(v)
				}
				return string(v)
			}
		}
		if !bytesField("value", store.MaxValueSize, show) {
			return nil, errors.New("bad entry value")
		}
	}
	if len(p) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// decodeCookieValue annotates a value made by cookie.Codec, as the cookie
// package documents its format: a 13-byte header — format (1 sealed, 2
// signed), key ID, expiry in Unix milliseconds — then the nonce and the
// ciphertext with its tag (sealed) or the payload and its HMAC (signed).
func decodeCookieValue(v string) ([]field, error) {
	if len(v) > 4096 {
		return nil, errors.New("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	if len(b) < 13 {
		return nil, errors.New("too short")
	}
	out := []field{}
	switch b[0] {
	case 1:
		out = append(out, field{hexField(b[:1], 1), "format", "1 = sealed (XChaCha20-Poly1305)"})
	case 2:
		out = append(out, field{hexField(b[:1], 1), "format", "2 = signed (HMAC-SHA256)"})
	default:
		return nil, errors.New("unknown format")
	}
	out = append(out,
		field{hexField(b[1:5], 4), "key ID", strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[1:5])), 10)},
		field{hexField(b[5:13], 8), "expires", fmtTime(int64(binary.BigEndian.Uint64(b[5:13])))},
	)
	rest := b[13:]
	if b[0] == 1 {
		if len(rest) < 24+16 {
			return nil, errors.New("too short")
		}
		out = append(out,
			field{hexField(rest[:24], 12), "nonce", "24 random bytes"},
			field{hexField(rest[24:len(rest)-16], 12), "ciphertext", fmt.Sprintf("%d bytes: the payload, encrypted", len(rest)-24-16)},
			field{hexField(rest[len(rest)-16:], 8), "tag", "16 bytes: Poly1305 authentication tag"},
		)
	} else {
		if len(rest) < 32 {
			return nil, errors.New("too short")
		}
		out = append(out,
			field{hexField(rest[:len(rest)-32], 12), "payload", fmt.Sprintf("%d bytes, readable by anyone", len(rest)-32)},
			field{hexField(rest[len(rest)-32:], 8), "HMAC", "32 bytes: HMAC-SHA256"},
		)
	}
	return out, nil
}

// decodeJWT returns the pretty-printed header and claims of a compact JWS,
// without verifying anything: for display only.
func decodeJWT(tok string) (header, claims string, err error) {
	if len(tok) > 8<<10 {
		return "", "", errors.New("too long")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", "", errors.New("not three segments")
	}
	pretty := func(seg string) (string, error) {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			return "", errors.New("not base64url")
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, b, "", "  "); err != nil || !utf8.Valid(b) {
			return "", errors.New("not JSON")
		}
		return buf.String(), nil
	}
	if header, err = pretty(parts[0]); err != nil {
		return "", "", err
	}
	if claims, err = pretty(parts[1]); err != nil {
		return "", "", err
	}
	return header, claims, nil
}

// hexDump formats up to max bytes of b as hexdump -C does.
func hexDump(b []byte, max int) string {
	var sb strings.Builder
	shown := b
	if len(shown) > max {
		shown = shown[:max]
	}
	for off := 0; off < len(shown); off += 16 {
		line := shown[off:min(off+16, len(shown))]
		fmt.Fprintf(&sb, "%08x  ", off)
		for i := range 16 {
			if i < len(line) {
				fmt.Fprintf(&sb, "%02x ", line[i])
			} else {
				sb.WriteString("   ")
			}
			if i == 7 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(" |")
		for _, c := range line {
			if c >= 0x20 && c < 0x7f {
				sb.WriteByte(c)
			} else {
				sb.WriteByte('.')
			}
		}
		sb.WriteString("|\n")
	}
	if len(b) > max {
		fmt.Fprintf(&sb, "… %d more bytes\n", len(b)-max)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// storedJSON is one store entry as /demo/inspect shows it.
type storedJSON struct {
	Key     string `json:"key"`
	What    string `json:"what"`
	Present bool   `json:"present"`
	Size    int    `json:"size,omitempty"`
	Dump    string `json:"dump,omitempty"`
}

func (s *server) stored(r *http.Request, key, what string) (storedJSON, error) {
	raw, err := s.st.Get(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return storedJSON{Key: key, What: what}, nil
	}
	if err != nil {
		return storedJSON{}, err
	}
	return storedJSON{Key: key, What: what, Present: true, Size: len(raw), Dump: hexDump(raw, 160)}, nil
}

type familyJSON struct {
	ID         string    `json:"id"`
	Generation uint64    `json:"generation"`
	Created    time.Time `json:"created"`
	Rotated    time.Time `json:"rotated"`
	Expires    time.Time `json:"expires"`
	State      string    `json:"state"`
}

// verdict names why a credential is refused, in a word, for the page.
func verdict(err error) string {
	for _, c := range []struct {
		err  error
		word string
	}{
		{token.ErrReused, "reused"}, {token.ErrRevoked, "revoked"}, {token.ErrExpired, "expired"},
		{token.ErrNotFound, "unknown (revoked or never issued)"}, {token.ErrMalformed, "malformed"},
		{jwt.ErrRevoked, "revoked"}, {jwt.ErrExpired, "expired"}, {jwt.ErrSignature, "bad signature"},
		{jwt.ErrUnknownKey, "unknown key"}, {jwt.ErrMalformed, "malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.word
		}
	}
	if errors.Is(err, authkit.ErrInvalidCredentials) {
		return "invalid"
	}
	return "cannot check now"
}

// GET /demo/inspect[?family=<id>] (Authorization: Bearer <token or JWT>)
// shows what the server keeps for a credential: the store entries, raw,
// and the verdict.
// It only reads; it is how the page's token and JWT panels look inside.
func (s *server) inspect(w http.ResponseWriter, r *http.Request) {
	tok, err := authkit.BearerToken(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "send a token in the Authorization header")
		return
	}
	out := map[string]any{}
	var famID string
	switch {
	case s.tokens.KindOf(token.Token(tok)) == token.KindAccess:
		out["kind"] = "token"
		st, err := s.stored(r, storeKey("tok:", tok), "the access token's record, under the SHA-256 of the token")
		if err != nil {
			s.internalError(w, "inspect", err)
			return
		}
		out["stored"] = []storedJSON{st}
		info, err := s.tokens.Verify(r.Context(), token.Token(tok))
		if err != nil {
			out["verdict"] = verdict(err)
		} else {
			out["verdict"] = "valid"
			out["subject"], out["expires"] = info.Subject, info.Expires
			famID = info.FamilyID
		}
	case strings.Count(tok, ".") == 2:
		out["kind"] = "jwt"
		h, c, err := decodeJWT(tok)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "not a JWT")
			return
		}
		out["header"], out["claims"] = h, c
		claims, err := s.jwts.Verify(r.Context(), tok)
		if err != nil {
			out["verdict"] = verdict(err)
		} else {
			out["verdict"] = "signature and claims valid"
			famID = claims.FamilyID
		}
		out["stored"] = []storedJSON{}
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "not a token of this server")
		return
	}
	if famID == "" {
		// A revoked token no longer names its family: the page remembers
		// the family's ID (not a secret) from an earlier look.
		if f := r.URL.Query().Get("family"); len(f) == 43 && strings.Trim(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == "" {
			famID = f
		}
	}
	if famID != "" {
		st, err := s.stored(r, "rtf:"+famID, "the refresh family: hashes of its current and past refresh tokens, its deadlines")
		if err != nil {
			s.internalError(w, "inspect", err)
			return
		}
		out["stored"] = append(out["stored"].([]storedJSON), st)
		f, err := s.tokens.Family(r.Context(), famID)
		fj := familyJSON{ID: famID, State: "alive"}
		if err != nil {
			fj.State = verdict(err)
		}
		if f.ID != "" {
			fj.Generation, fj.Created, fj.Rotated, fj.Expires = f.Generation, f.Created, f.Rotated, f.Expires
		}
		out["family"] = fj
		if out["kind"] == "jwt" && err != nil {
			out["verdict"] = "signature valid, but its refresh family is " + fj.State
		}
	}
	writeJSON(w, http.StatusOK, out)
}
