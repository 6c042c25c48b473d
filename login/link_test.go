package login_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
	"github.com/authkit/authkit/token"
)

type linkEnv struct {
	l   *login.Links
	box *outbox
	ev  *events
	h   http.Handler
	got []login.Result
}

func newLinkEnv(st store.Store, c *clock, same bool) *linkEnv {
	e := &linkEnv{box: &outbox{users: newUsers()}, ev: &events{}}
	e.box.byAddress["ann@example.com"] = "u-ann"
	tokens := token.New(st, token.Config{Now: c.Now})
	e.l = login.NewLinks(st, tokens, e.box, login.LinkConfig{URL: "https://example.com/login/link", SameBrowser: same,
		Events: e.ev.fn, Now: c.Now, Logger: quiet, Throttle: throttle.New(st, throttle.Config{Now: c.Now})})
	e.h = e.l.Handler(func(w http.ResponseWriter, r *http.Request, res login.Result) {
		e.got = append(e.got, res)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return e
}

func (e *linkEnv) request(t *testing.T, b *browser, address string) {
	t.Helper()
	w := httptest.NewRecorder()
	if err := e.l.Request(w, b.request("POST", "https://example.com/login/email", nil), address); err != nil {
		t.Fatal(err)
	}
	b.keep(w)
}

func tokenOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("link %q", link)
	}
	return u.Query().Get("token")
}

func (e *linkEnv) open(b *browser, link string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, b.request("GET", link, nil))
	return w
}

func (e *linkEnv) post(b *browser, tok string, confirm bool) *httptest.ResponseRecorder {
	form := url.Values{"token": {tok}}
	if confirm {
		form.Set("confirm", "other-browser")
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, b.request("POST", "https://example.com/login/link", form))
	b.keep(w)
	return w
}

func TestLinks(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newLinkEnv(st, c, false)
		b := newBrowser("203.0.113.40")
		e.request(t, b, "Ann@example.com")
		m := e.box.last()
		if m.Kind != login.KindLink || m.To != "ann@example.com" || !strings.HasPrefix(m.Link, "https://example.com/login/link?token=") {
			t.Fatalf("message %v", m)
		}
		if m.Expires.Sub(c.Now()) != 15*time.Minute {
			t.Fatalf("lifetime %v", m.Expires.Sub(c.Now()))
		}
		tok := tokenOf(t, m.Link)
		// A mail scanner fetches the link: a page, and the link stays valid.
		for range 2 {
			w := e.open(newBrowser("192.0.2.99"), m.Link)
			if w.Code != 200 || !strings.Contains(w.Body.String(), `method="post"`) || w.Header().Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("GET: %d %s", w.Code, w.Body)
			}
		}
		if w := e.post(b, tok, false); w.Code != http.StatusSeeOther || len(e.got) != 1 || e.got[0].Subject != "u-ann" || e.got[0].Method != login.MethodLink {
			t.Fatalf("POST: %d %v", w.Code, e.got)
		}
		used := e.post(b, tok, false)
		// Expired: the same answer as used.
		e.request(t, b, "ann@example.com")
		tok2 := tokenOf(t, e.box.last().Link)
		c.Add(15 * time.Minute)
		expired := e.post(b, tok2, false)
		if used.Code != 400 || expired.Code != 400 || used.Body.String() != expired.Body.String() || len(e.got) != 1 {
			t.Fatalf("used %d, expired %d", used.Code, expired.Code)
		}
		// The refusal page keeps its headers: a status written before the
		// page ran would have sent it without them.
		for _, w := range []*httptest.ResponseRecorder{used, expired} {
			sent := w.Result().Header // as sent with the status, not as set later
			if sent.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(sent.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Fatalf("invalid-link page headers: %v", sent)
			}
		}
		w := httptest.NewRecorder()
		_, err := e.l.Confirm(w, b.request("POST", "/", url.Values{"token": {tok}}))
		if err != login.ErrInvalidLink {
			t.Fatal(err)
		}
	})
}

// TestLinkUnknownAddress: the same answer for an address without an
// account, and nothing sent.
func TestLinkUnknownAddress(t *testing.T) {
	c := newClock()
	st := store.NewMemory(store.MemoryConfig{Now: c.Now})
	defer st.Close()
	e := newLinkEnv(st, c, true)
	var heads []http.Header
	for _, addr := range []string{"ann@example.com", "nobody@example.com", "not an address"} {
		w := httptest.NewRecorder()
		if err := e.l.Request(w, newBrowser("203.0.113.41").request("POST", "/", nil), addr); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		h := w.Header().Clone()
		h.Del("Set-Cookie") // its value is random; its presence is compared below
		heads = append(heads, h)
		if len(w.Result().Cookies()) != 1 {
			t.Fatalf("%s: cookies %v", addr, w.Result().Cookies())
		}
	}
	if e.box.count() != 1 {
		t.Fatalf("%d messages", e.box.count())
	}
	for _, h := range heads[1:] {
		if len(h) != len(heads[0]) {
			t.Fatalf("headers differ: %v vs %v", h, heads[0])
		}
	}
}

// TestLinkSameBrowser: opened in the browser that asked, one click signs
// in; opened elsewhere, the page asks for confirmation and the link stays
// valid until it is given.
func TestLinkSameBrowser(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newLinkEnv(st, c, true)
		asker := newBrowser("203.0.113.42")
		e.request(t, asker, "ann@example.com")
		link := e.box.last().Link
		tok := tokenOf(t, link)
		if body := e.open(asker, link).Body.String(); strings.Contains(body, "another browser") {
			t.Fatal("the asking browser was warned")
		}
		phone := newBrowser("198.51.100.42")
		if body := e.open(phone, link).Body.String(); !strings.Contains(body, "another browser") {
			t.Fatal("another browser was not warned")
		}
		if w := e.post(phone, tok, false); w.Code != 200 || len(e.got) != 0 || !strings.Contains(w.Body.String(), "another browser") {
			t.Fatalf("unconfirmed POST elsewhere: %d %v", w.Code, e.got)
		}
		if w := e.post(phone, tok, true); w.Code != http.StatusSeeOther || len(e.got) != 1 {
			t.Fatalf("confirmed POST elsewhere: %d", w.Code)
		}
		e.request(t, asker, "ann@example.com")
		if w := e.post(asker, tokenOf(t, e.box.last().Link), false); w.Code != http.StatusSeeOther || len(e.got) != 2 {
			t.Fatalf("same browser: %d", w.Code)
		}
	})
}

func TestLinkThrottledAndCrossOrigin(t *testing.T) {
	eachBackend(t, func(t *testing.T, st store.Store, c *clock) {
		e := newLinkEnv(st, c, false)
		b := newBrowser("203.0.113.43")
		for _, addr := range []string{"ann@example.com", "nobody@example.com"} {
			for range 3 {
				e.request(t, b, addr)
			}
			err := e.l.Request(httptest.NewRecorder(), b.request("POST", "/", nil), addr)
			if !errors.Is(err, throttle.ErrLimited) {
				t.Fatalf("%s: %v", addr, err)
			}
		}
		tok := tokenOf(t, e.box.last().Link)
		r := b.request("POST", "/", url.Values{"token": {tok}})
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != 403 {
			t.Fatalf("cross-origin POST: %d", w.Code)
		}
		if w := e.post(b, tok, false); w.Code != http.StatusSeeOther {
			t.Fatalf("the link after a refused cross-origin POST: %d", w.Code)
		}
	})
}
