package cookie

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/authkit/authkit/internal/httpsyntax"
)

// MaxLine is the largest Set-Cookie header value, in bytes, that [Template]
// writes: name, value and attributes together. RFC 6265 §6.1 asks browsers to
// keep at least this much per cookie, and most keep no more; a longer cookie
// is silently dropped. [Codec] applies the same bound to name=value.
const MaxLine = 4096

// MaxAgeLimit is the largest [Template.MaxAge] accepted. Browsers cap cookie
// lifetimes at 400 days (RFC 6265bis §5.5); a longer MaxAge would be
// shortened without notice, so it is refused instead.
const MaxAgeLimit = 400 * 24 * time.Hour

// maxAttrLen is the largest Path or Domain attribute browsers keep
// (RFC 6265bis §5.6).
const maxAttrLen = 1024

// Template describes a cookie: its name and the attributes written with every
// value. Make one with [New], which fills in the safe defaults, then change
// fields as needed. A Template is a plain value: copy it to derive variants
// (for example a longer MaxAge for "remember me"), but do not modify one that
// other goroutines are using.
//
// A struct literal is allowed, but every weakening must be spelled out:
// [Template.Validate] rejects Secure=false without InsecureAllowHTTP,
// HttpOnly=false without AllowScriptAccess, an empty Path and an unset
// SameSite, so a forgotten field never silently produces a weaker cookie.
//
// Set, Build, Read and Delete validate the template on every call and never
// adjust it: an invalid template is an error, not a corrected cookie. Call
// Validate once at start-up to fail early.
type Template struct {
	// Name is the cookie name: a non-empty RFC 7230 token. Prefer a name
	// starting with "__Host-": browsers then refuse the cookie unless it is
	// Secure, has Path=/ and no Domain, so a sibling subdomain or a plain-HTTP
	// page cannot plant or overwrite it. Prefixes ("__Host-", "__Secure-",
	// "__Http-", "__Host-Http-") are matched case-insensitively, as browsers do,
	// and their requirements are enforced.
	Name string

	// Path limits the cookie to request paths under it. New sets "/". It must
	// start with "/" and hold no ';' or control characters, at most 1024
	// bytes. Empty is an error: browsers would default it to the directory of
	// the request that set the cookie. A Path is not a security boundary.
	Path string

	// Domain, when set, sends the cookie to that domain and all its
	// subdomains. The default, empty, makes a host-only cookie (sent to the
	// exact host that set it), which is safer. It must be a plain DNS name
	// without a leading or trailing dot.
	Domain string

	// MaxAge is how long the browser keeps the cookie, in whole seconds
	// (fractions are dropped); it is written as Max-Age. Zero, the default,
	// makes a session cookie that the browser drops when it closes. It must
	// be zero or between one second and [MaxAgeLimit]; a negative MaxAge is
	// an error (use [Template.Delete] to remove a cookie). At most one of
	// MaxAge and Expires may be set.
	MaxAge time.Duration

	// Expires is an absolute expiry time, written as Expires. Zero, the
	// default, writes none. Prefer MaxAge, which does not depend on the
	// client's clock. Browsers cap it at 400 days from now (RFC 6265bis
	// §5.5), so a later time is refused, as a MaxAge over [MaxAgeLimit] is;
	// a time in the past is allowed (the browser drops the cookie).
	Expires time.Time

	// Secure makes the browser send the cookie only over HTTPS. New sets it.
	// Turning it off is an error unless InsecureAllowHTTP is also set.
	// Chromium stores Secure cookies set over http://localhost and
	// http://127.0.0.1, so local development does not need to turn it off.
	Secure bool

	// HttpOnly hides the cookie from JavaScript (document.cookie), so a
	// script injected into the page cannot read it. New sets it. Turning it
	// off is an error unless AllowScriptAccess is also set.
	HttpOnly bool

	// SameSite controls whether the browser sends the cookie on cross-site
	// requests. New sets [http.SameSiteLaxMode]: sent on top-level
	// navigations, not on cross-site subrequests or POSTs. It must be Lax,
	// Strict or None; None requires Secure. The zero value and
	// [http.SameSiteDefaultMode] are errors, because browsers disagree about
	// what a missing attribute means.
	SameSite http.SameSite

	// Partitioned stores the cookie per top-level site (CHIPS), for
	// embedded third-party use. It requires Secure. Default false.
	Partitioned bool

	// InsecureAllowHTTP permits Secure=false, so the cookie is also sent over
	// plain HTTP, where anyone on the network can read and replace it. Only
	// for plain-HTTP hosts other than localhost and 127.0.0.1, which
	// Chromium treats as secure. It does not change Secure by itself.
	// Default false.
	InsecureAllowHTTP bool

	// AllowScriptAccess permits HttpOnly=false, so JavaScript on the page can
	// read the cookie — for example a double-submit CSRF token. Never use it
	// for a session or any credential. It does not change HttpOnly by
	// itself. Default false.
	AllowScriptAccess bool
}

// New returns a Template named name with the safe defaults: Path "/", Secure,
// HttpOnly, SameSite=Lax, no Domain, no MaxAge (a session cookie). New does
// not validate; [Template.Validate] does, and so does every method.
func New(name string) Template {
	return Template{
		Name:     name,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// Validate reports the first rule the template breaks, as an error wrapping
// [ErrInvalidName], [ErrInvalidAttribute], [ErrInsecure] or [ErrPrefix].
// It returns nil for a template every current browser will store as written.
func (t Template) Validate() error {
	if err := checkName(t.Name); err != nil {
		return err
	}
	if err := checkPath(t.Path); err != nil {
		return err
	}
	if t.Domain != "" {
		if err := checkDomain(t.Domain); err != nil {
			return err
		}
	}
	switch {
	case t.MaxAge < 0:
		return fmt.Errorf("%w: MaxAge is negative; use Delete to remove a cookie", ErrInvalidAttribute)
	case t.MaxAge > 0 && t.MaxAge < time.Second:
		return fmt.Errorf("%w: MaxAge %v is under one second", ErrInvalidAttribute, t.MaxAge)
	case t.MaxAge > MaxAgeLimit:
		return fmt.Errorf("%w: MaxAge %v exceeds the 400-day limit browsers enforce", ErrInvalidAttribute, t.MaxAge)
	}
	if !t.Expires.IsZero() {
		if t.MaxAge != 0 {
			return fmt.Errorf("%w: both MaxAge and Expires are set", ErrInvalidAttribute)
		}
		if y := t.Expires.UTC().Year(); y < 1601 || y > 9999 {
			return fmt.Errorf("%w: Expires year %d is outside 1601..9999", ErrInvalidAttribute, y)
		}
		if t.Expires.After(time.Now().Add(MaxAgeLimit)) {
			return fmt.Errorf("%w: Expires is more than 400 days away, beyond the 400-day limit browsers enforce", ErrInvalidAttribute)
		}
	}
	switch t.SameSite {
	case http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode:
	default:
		return fmt.Errorf("%w: SameSite must be Lax, Strict or None", ErrInvalidAttribute)
	}
	if err := t.checkPrefix(); err != nil {
		return err
	}
	switch {
	case !t.Secure && !t.InsecureAllowHTTP:
		return fmt.Errorf("%w: Secure is off; set InsecureAllowHTTP to send the cookie over plain HTTP", ErrInsecure)
	case !t.HttpOnly && !t.AllowScriptAccess:
		return fmt.Errorf("%w: HttpOnly is off; set AllowScriptAccess to let scripts read the cookie", ErrInsecure)
	case t.SameSite == http.SameSiteNoneMode && !t.Secure:
		return fmt.Errorf("%w: SameSite=None requires Secure", ErrInsecure)
	case t.Partitioned && !t.Secure:
		return fmt.Errorf("%w: Partitioned requires Secure", ErrInsecure)
	}
	return nil
}

// checkPrefix enforces the cookie name prefixes of RFC 6265bis §4.1.3.
func (t Template) checkPrefix() error {
	if hasPrefixFold(t.Name, "__Secure-") && !t.Secure {
		return fmt.Errorf("%w: a __Secure- cookie must be Secure", ErrPrefix)
	}
	if hasPrefixFold(t.Name, "__Host-") {
		switch {
		case !t.Secure:
			return fmt.Errorf("%w: a __Host- cookie must be Secure", ErrPrefix)
		case t.Path != "/":
			return fmt.Errorf("%w: a __Host- cookie must have Path=/", ErrPrefix)
		case t.Domain != "":
			return fmt.Errorf("%w: a __Host- cookie must not have a Domain", ErrPrefix)
		}
	}
	if hasPrefixFold(t.Name, "__Http-") || hasPrefixFold(t.Name, "__Host-Http-") {
		if !t.Secure || !t.HttpOnly {
			return fmt.Errorf("%w: a __Http- cookie must be Secure and HttpOnly", ErrPrefix)
		}
	}
	return nil
}

// Build returns the Set-Cookie header value that Set would write for value.
// value must consist of RFC 6265 cookie-octets (printable ASCII except space,
// '"', ',', ';' and '\'); it is never quoted or escaped. The line must fit in
// [MaxLine] bytes, or the error wraps [ErrTooLong].
func (t Template) Build(value string) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	if err := checkValue(value); err != nil {
		return "", err
	}
	var buf [512]byte
	b := t.appendLine(buf[:0], value, false)
	if len(b) > MaxLine {
		return "", fmt.Errorf("%w: Set-Cookie for %q would be %d bytes, over %d", ErrTooLong, t.Name, len(b), MaxLine)
	}
	return string(b), nil
}

// Set adds a Set-Cookie header carrying value to w, after the checks of
// [Template.Build]. Like any header, it must be set before the response's
// first WriteHeader or Write; afterwards it is silently lost.
func (t Template) Set(w http.ResponseWriter, value string) error {
	line, err := t.Build(value)
	if err != nil {
		return err
	}
	w.Header().Add("Set-Cookie", line)
	return nil
}

// Delete adds a Set-Cookie header that makes the browser drop the cookie: an
// empty value with Max-Age=0 and an Expires in 1970. It repeats Name, Path,
// Domain, Secure, HttpOnly, SameSite and Partitioned, because a browser only
// replaces a cookie whose name, path, domain and partition match, and refuses
// a prefixed name without its attributes. A cookie planted by another
// subdomain or path cannot be deleted this way.
func (t Template) Delete(w http.ResponseWriter) error {
	if err := t.Validate(); err != nil {
		return err
	}
	var buf [512]byte
	b := t.appendLine(buf[:0], "", true)
	if len(b) > MaxLine {
		return fmt.Errorf("%w: Set-Cookie for %q would be %d bytes, over %d", ErrTooLong, t.Name, len(b), MaxLine)
	}
	w.Header().Add("Set-Cookie", string(b))
	return nil
}

// Read returns the value of the cookie named t.Name in r's Cookie headers.
//
// It returns [ErrNotFound] when the name is absent and an error wrapping
// [ErrDuplicate] when the name appears more than once — never "the first
// one": browsers send every cookie whose domain and path match, so a second
// copy means a sibling subdomain or a narrower path planted one, and the
// request cannot tell which is genuine. Callers should treat both as "no
// cookie". A value outside the RFC 6265 cookie-octet set wraps
// [ErrInvalidValue]; one pair of surrounding double quotes is removed.
// Read validates the template like the other methods.
func (t Template) Read(r *http.Request) (string, error) {
	if err := t.Validate(); err != nil {
		return "", err
	}
	return readCookie(r.Header["Cookie"], t.Name)
}

// readCookie finds name in the Cookie header lines. Pairs are separated by
// ';', whitespace around names and values is ignored, and a pair
// without '=' is a nameless cookie (RFC 6265bis §5.7) and never matches.
func readCookie(lines []string, name string) (string, error) {
	found := false
	var val string
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, ok := strings.Cut(part, "=")
			if !ok || trimOWS(n) != name {
				continue
			}
			if found {
				return "", fmt.Errorf("%w: %q", ErrDuplicate, name)
			}
			found = true
			val = trimOWS(v)
		}
	}
	if !found {
		return "", ErrNotFound
	}
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = val[1 : len(val)-1]
	}
	if err := checkValue(val); err != nil {
		return "", err
	}
	return val, nil
}

// appendLine appends the Set-Cookie value for value to b. With del set it
// writes the deletion form: empty value, Max-Age=0 and an Expires in 1970.
func (t Template) appendLine(b []byte, value string, del bool) []byte {
	b = append(b, t.Name...)
	b = append(b, '=')
	b = append(b, value...)
	b = append(b, "; Path="...)
	b = append(b, t.Path...)
	if t.Domain != "" {
		b = append(b, "; Domain="...)
		b = append(b, t.Domain...)
	}
	switch {
	case del:
		b = append(b, "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"...)
	case t.MaxAge > 0:
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, int64(t.MaxAge/time.Second), 10)
	case !t.Expires.IsZero():
		b = append(b, "; Expires="...)
		b = t.Expires.UTC().AppendFormat(b, http.TimeFormat)
	}
	if t.Secure {
		b = append(b, "; Secure"...)
	}
	if t.HttpOnly {
		b = append(b, "; HttpOnly"...)
	}
	switch t.SameSite {
	case http.SameSiteLaxMode:
		b = append(b, "; SameSite=Lax"...)
	case http.SameSiteStrictMode:
		b = append(b, "; SameSite=Strict"...)
	case http.SameSiteNoneMode:
		b = append(b, "; SameSite=None"...)
	}
	if t.Partitioned {
		b = append(b, "; Partitioned"...)
	}
	return b
}

// checkName reports whether name is a non-empty RFC 7230 token.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	for i := 0; i < len(name); i++ {
		if !httpsyntax.IsTchar(name[i]) {
			return fmt.Errorf("%w: %q has a byte not allowed in a token at offset %d", ErrInvalidName, name, i)
		}
	}
	return nil
}

// checkValue reports whether v consists of RFC 6265 cookie-octets.
func checkValue(v string) error {
	for i := 0; i < len(v); i++ {
		if !isCookieOctet(v[i]) {
			return fmt.Errorf("%w: the byte at offset %d is not a cookie-octet", ErrInvalidValue, i)
		}
	}
	return nil
}

// isCookieOctet reports whether c is an RFC 6265 cookie-octet: printable
// US-ASCII except space, '"', ',', ';' and '\'.
func isCookieOctet(c byte) bool {
	return 0x21 <= c && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\'
}

func checkPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: Path is empty; use \"/\"", ErrInvalidAttribute)
	case p[0] != '/':
		return fmt.Errorf("%w: Path %q does not start with /", ErrInvalidAttribute, p)
	case len(p) > maxAttrLen:
		return fmt.Errorf("%w: Path is %d bytes, over %d", ErrInvalidAttribute, len(p), maxAttrLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c > 0x7e || c == ';' {
			return fmt.Errorf("%w: Path has byte %#x at offset %d", ErrInvalidAttribute, c, i)
		}
	}
	return nil
}

// checkDomain accepts a DNS name of letter-digit-hyphen labels: at most 253
// bytes, labels of 1..63 bytes not starting or ending with '-'. A leading
// dot, which browsers ignore, is refused rather than dropped.
func checkDomain(d string) error {
	if len(d) > 253 {
		return fmt.Errorf("%w: Domain is %d bytes, over 253", ErrInvalidAttribute, len(d))
	}
	if d[0] == '.' || d[len(d)-1] == '.' {
		return fmt.Errorf("%w: Domain %q must not start or end with a dot", ErrInvalidAttribute, d)
	}
	for label := range strings.SplitSeq(d, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%w: Domain %q has an invalid label", ErrInvalidAttribute, d)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("%w: Domain %q has byte %#x", ErrInvalidAttribute, d, c)
			}
		}
	}
	return nil
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// trimOWS removes spaces, tabs, CR and LF from both ends of s, as net/http
// does, so that no whitespace variant of a name escapes the duplicate check.
func trimOWS(s string) string {
	for s != "" && isOWS(s[0]) {
		s = s[1:]
	}
	for s != "" && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
