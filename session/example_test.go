package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// browser sends requests to h in-process, keeping cookies like a browser.
func browser(h http.Handler) func(method, path string) string {
	jar, _ := cookiejar.New(nil)
	return func(method, path string) string {
		req := httptest.NewRequest(method, "https://example.com"+path, nil)
		u, _ := url.Parse("https://example.com")
		for _, c := range jar.Cookies(u) {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		jar.SetCookies(u, rec.Result().Cookies())
		body, _ := io.ReadAll(rec.Result().Body)
		if len(body) == 0 {
			body = []byte(http.StatusText(rec.Code))
		}
		return fmt.Sprintf("%d %s", rec.Code, strings.TrimSpace(string(body)))
	}
}

// A shop with a cart kept in the session, login, a protected page, a flash
// message and logout.
func Example() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	m := session.New(st, session.Config{})

	type cart struct{ Items []string }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		c, err := session.Get[cart](r.Context(), "cart")
		if err != nil && !errors.Is(err, session.ErrNotFound) {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		c.Items = append(c.Items, r.FormValue("item"))
		if err := session.Set(r.Context(), "cart", c); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "cart %v", c.Items)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// Check the user's password here, then:
		if err := m.Login(r.Context(), "alice"); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		_ = session.Set(r.Context(), "flash", "welcome back")
		io.WriteString(w, "logged in")
	})
	mux.Handle("GET /account", authkit.Require(m)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		flash, _ := session.Pop[string](r.Context(), "flash")
		c, _ := session.Get[cart](r.Context(), "cart")
		fmt.Fprintf(w, "%s: %s; cart %v", id.Subject, flash, c.Items)
	})))
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Logout(r.Context()); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "bye")
	})

	do := browser(m.Middleware(mux))
	fmt.Println(do("GET", "/account"))
	fmt.Println(do("POST", "/cart?item=book"))
	fmt.Println(do("POST", "/cart?item=pen"))
	fmt.Println(do("POST", "/login"))
	fmt.Println(do("GET", "/account"))
	fmt.Println(do("GET", "/account"))
	fmt.Println(do("POST", "/logout"))
	fmt.Println(do("GET", "/account"))
	// Output:
	// 401 Unauthorized
	// 200 cart [book]
	// 200 cart [book pen]
	// 200 logged in
	// 200 alice: welcome back; cart [book pen]
	// 200 alice: ; cart [book pen]
	// 200 bye
	// 401 Unauthorized
}

// Values keep their Go types: no registration, and a clear error when the
// type asked for is not the one stored.
func ExampleGet() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	m := session.New(st, session.Config{})

	type prefs struct {
		Theme string
		Size  int
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		_ = session.Set(ctx, "visits", 3)
		_ = session.Set(ctx, "prefs", prefs{Theme: "dark", Size: 14})

		visits, err := session.Get[int](ctx, "visits")
		fmt.Println(visits, err)
		p, err := session.Get[prefs](ctx, "prefs")
		fmt.Printf("%+v %v\n", p, err)
		_, err = session.Get[string](ctx, "visits")
		fmt.Println(errors.Is(err, session.ErrType), err)
		_, err = session.Get[string](ctx, "missing")
		fmt.Println(errors.Is(err, session.ErrNotFound))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	// Output:
	// 3 <nil>
	// {Theme:dark Size:14} <nil>
	// true session: type mismatch: "visits" holds an int, not a string
	// true
}

// A "your devices" page: list the user's sessions and log out the others.
func ExampleManager_Sessions() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	m := session.New(st, session.Config{})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_ = m.Login(r.Context(), "alice")
	})
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		infos, _ := m.Sessions(r.Context(), "alice")
		for _, s := range infos {
			fmt.Fprintf(w, "[%s current=%v] ", s.ClientIP, s.Current)
		}
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		_ = m.RevokeOthers(r.Context())
	})
	h := m.Middleware(mux)
	laptop, phone := browser(h), browser(h)
	laptop("POST", "/login")
	phone("POST", "/login")
	fmt.Println(laptop("GET", "/devices"))
	laptop("POST", "/logout-others")
	fmt.Println(laptop("GET", "/devices"))
	// Output:
	// 200 [192.0.2.1 current=true] [192.0.2.1 current=false]
	// 200 [192.0.2.1 current=true]
}

// Single sign-on: the login callback tags the session with the identity
// provider's session ID, and the provider's back-channel logout ends every
// session with that tag.
func ExampleManager_RevokeTagged() {
	st := store.NewMemory(store.MemoryConfig{})
	defer st.Close()
	m := session.New(st, session.Config{})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		// After the provider's answer was verified: its subject and session ID.
		if err := m.Login(r.Context(), "alice"); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		if err := session.SetTag(r.Context(), "idp-sid-"+r.FormValue("sid")); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		id, err := m.Authenticate(r)
		if err != nil {
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, id.Subject)
	})
	h := m.Middleware(mux)
	laptop, phone := browser(h), browser(h)
	laptop("GET", "/callback?sid=1")
	phone("GET", "/callback?sid=2")

	// The provider reports that its session 1 ended.
	n, err := m.RevokeTagged(context.Background(), "alice", "idp-sid-1")
	fmt.Println(n, err)
	fmt.Println(laptop("GET", "/me"))
	fmt.Println(phone("GET", "/me"))
	// Output:
	// 1 <nil>
	// 401 signed out
	// 200 alice
}
