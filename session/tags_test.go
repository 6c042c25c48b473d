package session_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/session"
)

// tagApp is app(m) with routes that tag the session.
func tagApp(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", app(m))
	h := m.Middleware(mux)
	tagMux := http.NewServeMux()
	tagMux.HandleFunc("POST /tag", func(w http.ResponseWriter, r *http.Request) {
		if err := session.SetTag(r.Context(), r.FormValue("t")); err != nil {
			http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	// SetTag before Login (tag first) or after it.
	tagMux.HandleFunc("POST /tagged-login", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if r.FormValue("first") == "1" {
			if err := session.SetTag(ctx, r.FormValue("t")); err != nil {
				http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		if err := m.Login(ctx, r.FormValue("u")); err != nil {
			http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if r.FormValue("first") != "1" {
			if err := session.SetTag(ctx, r.FormValue("t")); err != nil {
				http.Error(w, "error: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		io.WriteString(w, "ok")
	})
	tagged := m.Middleware(tagMux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tag" || r.URL.Path == "/tagged-login" {
			tagged.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// tags returns the tags of subject's sessions, sorted.
func tags(t *testing.T, m *session.Manager, subject string) []string {
	t.Helper()
	infos, err := m.Sessions(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Tag)
	}
	slices.Sort(out)
	return out
}

func TestTags(t *testing.T) {
	ev := &events{}
	m := session.New(newMemory(t), session.Config{Events: ev.fn})
	h := tagApp(m)
	ctx := context.Background()

	before := newClient(t, h) // SetTag, then Login, in one request
	before.body("POST", "/tagged-login?u=alice&t=idp-1&first=1")
	after := newClient(t, h) // Login, then SetTag, in one request
	after.body("POST", "/tagged-login?u=alice&t=idp-1")
	other := newClient(t, h) // tagged in a later request
	other.body("POST", "/login?u=alice")
	other.body("POST", "/tag?t=idp-2")
	plain := newClient(t, h)
	plain.body("POST", "/login?u=alice")
	if got := strings.Join(tags(t, m, "alice"), ","); got != ",idp-1,idp-1,idp-2" {
		t.Fatalf("tags = %q", got)
	}

	// The tag survives ID renewal; a new Login starts untagged.
	c := before.cookie()
	before.body("POST", "/renew")
	if before.cookie() == c {
		t.Fatal("RenewID kept the ID")
	}
	other.body("POST", "/login?u=alice")
	if got := strings.Join(tags(t, m, "alice"), ","); got != ",,idp-1,idp-1" {
		t.Fatalf("tags after renew and re-login = %q", got)
	}
	other.body("POST", "/tag?t=idp-2")

	// Refused tags change nothing.
	for _, bad := range []string{strings.Repeat("x", session.MaxTagLen+1), "a%00b", "%C3%A9", "a%7Fb"} {
		if res, _ := other.do("POST", "/tag?t="+bad); res.StatusCode != 500 {
			t.Errorf("tag %q accepted", bad)
		}
	}
	if _, err := m.RevokeTagged(ctx, "alice", ""); !errors.Is(err, session.ErrInvalidKey) {
		t.Errorf("RevokeTagged with an empty tag: %v", err)
	}

	n, err := m.RevokeTagged(ctx, "alice", "idp-1")
	if err != nil || n != 2 {
		t.Fatalf("RevokeTagged = %d, %v; want 2", n, err)
	}
	for name, cl := range map[string]*client{"before": before, "after": after} {
		if got := cl.body("GET", "/whoami"); got != "invalid" {
			t.Errorf("%s: tagged session after RevokeTagged: %q", name, got)
		}
	}
	for name, cl := range map[string]*client{"other": other, "plain": plain} {
		if got := cl.body("GET", "/whoami"); got != "alice" {
			t.Errorf("%s: untagged or differently tagged session after RevokeTagged: %q", name, got)
		}
	}
	if got := strings.Join(tags(t, m, "alice"), ","); got != ",idp-2" {
		t.Errorf("tags after RevokeTagged = %q", got)
	}
	if n, err := m.RevokeTagged(ctx, "alice", "idp-1"); err != nil || n != 0 {
		t.Errorf("second RevokeTagged = %d, %v", n, err)
	}
	if n, err := m.RevokeTagged(ctx, "bob", "idp-2"); err != nil || n != 0 {
		t.Errorf("RevokeTagged of another subject = %d, %v", n, err)
	}
	if got := ev.count(authkit.EventRevoke); got != 1 {
		t.Errorf("%d revoke events, want 1", got)
	}

	// An empty tag removes it.
	other.body("POST", "/tag?t=")
	if got := strings.Join(tags(t, m, "alice"), ","); got != "," {
		t.Errorf("tags after clearing = %q", got)
	}

	// On an anonymous request without Login, SetTag does nothing.
	anon := newClient(t, h)
	anon.body("POST", "/tag?t=idp-3")
	if anon.cookie() != "" {
		t.Error("SetTag created a session")
	}
}

// A RevokeTagged whose marker write fails returns an error and leaves the
// session in the index, so a retry ends it.
func TestRevokeTaggedRetry(t *testing.T) {
	fs := faultstore.New(newMemory(t))
	m := session.New(fs, session.Config{})
	h := tagApp(m)
	c := newClient(t, h)
	c.body("POST", "/tagged-login?u=alice&t=idp-1")
	fs.On(faultstore.Rule{Op: faultstore.OpSet, KeyPrefix: "sess:", Nth: 1, Fail: true})
	n, err := m.RevokeTagged(context.Background(), "alice", "idp-1")
	if err == nil || n != 0 {
		t.Fatalf("RevokeTagged with a failing marker = %d, %v; want an error", n, err)
	}
	// The session still works (its revocation did not finish) and is listed.
	if got := c.body("GET", "/whoami"); got != "alice" {
		t.Fatalf("whoami = %q", got)
	}
	if got := len(tags(t, m, "alice")); got != 1 {
		t.Fatalf("%d sessions listed during the unfinished revocation, want 1", got)
	}
	n, err = m.RevokeTagged(context.Background(), "alice", "idp-1")
	if err != nil || n != 1 {
		t.Fatalf("retried RevokeTagged = %d, %v; want 1", n, err)
	}
	if got := c.body("GET", "/whoami"); got != "invalid" {
		t.Errorf("whoami after the retry = %q", got)
	}
}
