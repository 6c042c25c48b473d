package cookie_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/authkit/authkit/cookie"
)

// newSecret returns 32 random bytes. Real keys come from a secret store and
// must stay the same across restarts and servers.
func newSecret() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// Setting, reading and deleting a cookie with the safe defaults.
func ExampleTemplate() {
	sid := cookie.New("__Host-sid")
	sid.MaxAge = 12 * time.Hour

	w := httptest.NewRecorder()
	if err := sid.Set(w, "opaque-token"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Header().Get("Set-Cookie"))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "theme=dark; __Host-sid=opaque-token")
	v, err := sid.Read(r)
	fmt.Println(v, err)

	w = httptest.NewRecorder()
	if err := sid.Delete(w); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Header().Get("Set-Cookie"))
	// Output:
	// __Host-sid=opaque-token; Path=/; Max-Age=43200; Secure; HttpOnly; SameSite=Lax
	// opaque-token <nil>
	// __Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax
}

// A name sent twice is refused: one copy was planted by a sibling subdomain
// or set on a narrower path, and nothing says which.
func ExampleTemplate_Read() {
	sid := cookie.New("sid")
	r := httptest.NewRequest(http.MethodGet, "/app/", nil)
	r.Header.Set("Cookie", "sid=from-attacker; sid=genuine")

	_, err := sid.Read(r)
	if errors.Is(err, cookie.ErrNotFound) || errors.Is(err, cookie.ErrDuplicate) {
		fmt.Println("treated as logged out:", err)
	}
	// Output:
	// treated as logged out: cookie: name sent more than once: "sid"
}

// Validation names the rule instead of quietly fixing the cookie.
func ExampleTemplate_Validate() {
	literal := cookie.Template{Name: "sid", Path: "/", SameSite: http.SameSiteLaxMode}
	fmt.Println(literal.Validate())

	host := cookie.New("__Host-sid")
	host.Domain = "example.com"
	fmt.Println(host.Validate())

	// A device on the LAN served over plain HTTP: an explicit opt-in.
	lan := cookie.New("sid")
	lan.Secure = false
	lan.InsecureAllowHTTP = true
	fmt.Println(lan.Validate())
	// Output:
	// cookie: insecure settings: Secure is off; set InsecureAllowHTTP to send the cookie over plain HTTP
	// cookie: name prefix requirements not met: a __Host- cookie must not have a Domain
	// <nil>
}

// Rotating keys: the new key goes first and seals; the old one keeps opening
// existing values until it is removed.
func ExampleCodec() {
	oldKey := cookie.Key{ID: 1, Secret: newSecret()}
	newKey := cookie.Key{ID: 2, Secret: newSecret()}

	before, err := cookie.NewCodec(oldKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := before.SealString("__Host-flash", "Profile saved.", 10*time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}

	during, err := cookie.NewCodec(newKey, oldKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, err := during.OpenString("__Host-flash", v)
	fmt.Println(msg, err)

	_, err = during.OpenString("__Host-other", v)
	fmt.Println("under another name:", errors.Is(err, cookie.ErrInvalid))

	after, err := cookie.NewCodec(newKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = after.OpenString("__Host-flash", v)
	fmt.Println("after retiring key 1:", errors.Is(err, cookie.ErrUnknownKey))
	// Output:
	// Profile saved. <nil>
	// under another name: true
	// after retiring key 1: true
}

// A sealed JSON value carried in a cookie, as for OAuth state kept between
// the redirect to the provider and the callback.
func ExampleCodec_SealJSON() {
	type oauthState struct {
		State    string `json:"s"`
		Verifier string `json:"v"`
		Return   string `json:"r"`
	}
	codec, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: newSecret()})
	if err != nil {
		fmt.Println(err)
		return
	}
	tpl := cookie.New("__Host-oauth")
	tpl.MaxAge = 10 * time.Minute

	// Redirect handler: seal and set.
	v, err := codec.SealJSON(tpl.Name, oauthState{"st", "pkce-verifier", "/settings"}, tpl.MaxAge)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := httptest.NewRecorder()
	if err := tpl.Set(w, v); err != nil {
		fmt.Println(err)
		return
	}

	// Callback handler: read, open, delete.
	r := httptest.NewRequest(http.MethodGet, "/callback", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	raw, err := tpl.Read(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	var st oauthState
	if err := codec.OpenJSON(tpl.Name, raw, &st); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", st)
	// Output:
	// {State:st Verifier:pkce-verifier Return:/settings}
}

// A signed value is readable by the client but cannot be changed.
func ExampleCodec_Sign() {
	codec, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: newSecret()})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := codec.SignString("prefs", "lang=en", 30*24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := codec.VerifyString("prefs", v)
	fmt.Println(s, err)

	forged := []byte(v)
	forged[20] ^= 'A' ^ 'B' // any change, anywhere
	_, err = codec.VerifyString("prefs", string(forged))
	fmt.Println(errors.Is(err, cookie.ErrInvalid))
	// Output:
	// lang=en <nil>
	// true
}

// Tests inject a clock to check expiry.
func ExampleCodec_Now() {
	codec, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: newSecret()})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	codec.Now = func() time.Time { return now }
	v, err := codec.SealString("n", "x", time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	now = now.Add(time.Minute)
	_, err = codec.OpenString("n", v)
	fmt.Println(err)
	// Output:
	// cookie: encoded value expired
}

// Sliding renewal: OpenWithExpiry tells how much of a value's lifetime is
// left, so a handler can seal a fresh value once half of it has passed.
func ExampleCodec_OpenWithExpiry() {
	codec, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: newSecret()})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	codec.Now = func() time.Time { return now }
	const lifetime = time.Hour
	v, err := codec.SealString("__Host-prefs", "lang=en", lifetime)
	if err != nil {
		fmt.Println(err)
		return
	}
	now = now.Add(40 * time.Minute)
	payload, exp, err := codec.OpenWithExpiry("__Host-prefs", v)
	if err != nil {
		fmt.Println(err)
		return
	}
	left := exp.Sub(now)
	fmt.Println(string(payload), left, left < lifetime/2)
	if left < lifetime/2 {
		v, err = codec.Seal("__Host-prefs", payload, lifetime) // set this as the new cookie value
	}
	fmt.Println(err)
	// Output:
	// lang=en 20m0s true
	// <nil>
}

// A running server swaps its keys with SetKeys: the new key seals from then
// on, and values sealed with the old key open as long as it stays listed.
func ExampleCodec_SetKeys() {
	oldKey := cookie.Key{ID: 1, Secret: newSecret()}
	codec, err := cookie.NewCodec(oldKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	before, _ := codec.SealString("n", "sealed before", time.Hour)
	if err := codec.SetKeys(cookie.Key{ID: 2, Secret: newSecret()}, oldKey); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(codec.KeyIDs())
	fmt.Println(codec.OpenString("n", before))
	// Output:
	// [2 1]
	// sealed before <nil>
}
