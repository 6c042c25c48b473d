package session_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/authkit/authkit/internal/faultstore"
	"github.com/authkit/authkit/session"
)

// TestRoundTrips logs the store calls of each operation, counted with
// faultstore's call log, and checks the counts the package documentation
// relies on. Run with -v to see them:
//
//	go test -run TestRoundTrips -v ./session/
func TestRoundTrips(t *testing.T) {
	fs := faultstore.New(newMemory(t))
	m := session.New(fs, session.Config{})
	h := app(m)
	count := func(name string, want int, f func()) {
		t.Helper()
		start := len(fs.Calls())
		f()
		calls := fs.Calls()[start:]
		var ops []string
		for _, c := range calls {
			ops = append(ops, string(c.Op)+" "+c.Key[:strings.IndexByte(c.Key, ':')+1])
		}
		t.Logf("%-32s %2d round trips: %s", name, len(calls), strings.Join(ops, ", "))
		if want > 0 && len(calls) != want {
			t.Errorf("%s: %d round trips, want %d", name, len(calls), want)
		}
	}
	c := newClient(t, h)
	count("Login, no session", 3, func() { c.body("POST", "/login?u=alice") })
	count("Login, over a session", 5, func() { c.body("POST", "/login?u=alice") })
	count("RenewID", 5, func() { c.body("POST", "/renew") })
	count("Authenticate (read request)", 1, func() { c.body("GET", "/whoami") })
	count("Set (write request)", 2, func() { c.body("POST", "/set?k=a&v=1") })
	count("Logout", 4, func() { c.body("POST", "/logout") })
	for _, n := range []int{1, 5, 20} {
		loginClients(t, h, "bob", n, "d")
		count(fmt.Sprintf("RevokeSubject, %d sessions", n), n+4, func() {
			if err := m.RevokeSubject(context.Background(), "bob"); err != nil {
				t.Fatal(err)
			}
		})
	}
	count("RevokeSubject, no session", 1, func() {
		if err := m.RevokeSubject(context.Background(), "nobody"); err != nil {
			t.Fatal(err)
		}
	})
	d := loginClients(t, h, "carol", 2, "d")
	infos, _ := m.Sessions(context.Background(), "carol")
	count("RevokeID", 5, func() {
		if err := m.RevokeID(context.Background(), "carol", infos[1].Handle); err != nil {
			t.Fatal(err)
		}
	})
	_ = d
	// Authenticate outside the Middleware: one read.
	e := loginClients(t, h, "dave", 1, "d")[0]
	req, _ := http.NewRequest("GET", origin+"/", nil)
	req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: e.cookie()})
	count("Authenticate, no Middleware", 1, func() {
		if _, err := m.Authenticate(req); err != nil {
			t.Fatal(err)
		}
	})
}
