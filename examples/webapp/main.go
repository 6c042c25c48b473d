// Command webapp is the smallest complete server-rendered web app on
// authkit: register, sign in, a private page, sign out — with server-side
// sessions, argon2id passwords and CSRF protection, in one file.
//
//	go run ./examples/webapp          # http://127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"html/template"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()

	st := store.NewMemory(store.MemoryConfig{}) // sessions; use a Redis or SQL store to share them
	defer st.Close()
	srv := &http.Server{Addr: *addr, Handler: newApp(st, hash.New(hash.Config{})), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("webapp on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}

// app is the web app. Its users live in memory; a real one keeps them in a
// database, with the same three fields.
type app struct {
	sessions *session.Manager
	hasher   *hash.Hasher

	mu    sync.Mutex
	users map[string]string // user name → encoded password hash
}

func newApp(st store.Store, h *hash.Hasher) http.Handler {
	a := &app{sessions: session.New(st, session.Config{}), hasher: h, users: map[string]string{}}

	// Pages that need a signed-in user: a browser without a session is sent
	// to the home page, where the sign-in form is.
	private := &authkit.Guard{Unauthenticated: http.RedirectHandler("/?need=signin", http.StatusSeeOther)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /register", a.register)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.Handle("GET /private", private.Require(a.sessions)(http.HandlerFunc(a.private)))

	// Cross-origin POSTs are refused before they reach a handler, and the
	// session middleware loads and saves each request's session.
	return http.NewCrossOriginProtection().Handler(a.sessions.Middleware(mux))
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	var user string
	if id, err := a.sessions.Authenticate(r); err == nil {
		user = id.Subject
	}
	flash, _ := session.Pop[string](r.Context(), "flash")
	render(w, homePage, map[string]any{"User": user, "Flash": flash, "Need": r.URL.Query().Has("need")})
}

func (a *app) register(w http.ResponseWriter, r *http.Request) {
	name, pw := strings.ToLower(r.PostFormValue("username")), r.PostFormValue("password")
	if len(name) < 3 || len(name) > 32 || len(pw) < 8 || len(pw) > 256 {
		a.back(w, r, "A name of 3 to 32 characters and a password of at least 8, please.")
		return
	}
	encoded, err := a.hasher.Hash(r.Context(), pw)
	if err != nil {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	a.mu.Lock()
	_, taken := a.users[name]
	if !taken {
		a.users[name] = encoded
	}
	a.mu.Unlock()
	if taken {
		a.back(w, r, "That name is taken.")
		return
	}
	a.signIn(w, r, name)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	name, pw := strings.ToLower(r.PostFormValue("username")), r.PostFormValue("password")
	if err := a.check(r.Context(), name, pw); err != nil {
		a.back(w, r, "Wrong name or password.")
		return
	}
	a.signIn(w, r, name)
}

// check verifies a password. An unknown user costs the same hash as a
// known one (VerifyDummy), so the response time does not tell them apart.
func (a *app) check(ctx context.Context, name, pw string) error {
	a.mu.Lock()
	encoded, ok := a.users[name]
	a.mu.Unlock()
	if !ok {
		return a.hasher.VerifyDummy(ctx, pw)
	}
	rehash, err := a.hasher.Verify(ctx, pw, encoded)
	if err == nil && rehash { // an older scheme: upgrade while we have the password
		if h, err := a.hasher.Hash(ctx, pw); err == nil {
			a.mu.Lock()
			a.users[name] = h
			a.mu.Unlock()
		}
	}
	return err
}

// signIn binds the session to the user. Login gives the session a new ID,
// so an ID planted before sign-in (session fixation) is worthless.
func (a *app) signIn(w http.ResponseWriter, r *http.Request, name string) {
	if err := a.sessions.Login(r.Context(), name); err != nil {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/private", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.sessions.Logout(r.Context()) // the record is deleted: every copy of the cookie is dead
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) private(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	render(w, privatePage, map[string]any{"User": id.Subject, "Since": id.AuthTime.Format(time.Kitchen)})
}

// back returns to the home page with a message kept in the session.
func (a *app) back(w http.ResponseWriter, r *http.Request, msg string) {
	if err := session.Set(r.Context(), "flash", msg); err != nil && !errors.Is(err, session.ErrCrossOrigin) {
		log.Print(err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	if err := t.Execute(w, data); err != nil {
		log.Print(err)
	}
}

const style = `<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1c2430}
form{display:flex;flex-direction:column;gap:.5rem;margin:1rem 0}
input,button{font:inherit;padding:.45rem .6rem;border:1px solid #c9d0da;border-radius:6px}
button{background:#0f766e;color:#fff;border:0;cursor:pointer}.flash{background:#fef3c7;padding:.5rem .75rem;border-radius:6px}
</style>`

var homePage = template.Must(template.New("home").Parse(`<!doctype html><title>webapp</title>` + style + `
<h1>webapp</h1>
{{with .Flash}}<p class="flash">{{.}}</p>{{end}}
{{if .Need}}<p class="flash">Sign in to see that page.</p>{{end}}
{{if .User}}
  <p>Signed in as <strong>{{.User}}</strong>. <a href="/private">Your private page</a></p>
  <form method="post" action="/logout"><button>Sign out</button></form>
{{else}}
  <h2>Sign in</h2>
  <form method="post" action="/login">
    <input name="username" placeholder="name" autocomplete="username" required>
    <input name="password" type="password" placeholder="password" autocomplete="current-password" required>
    <button>Sign in</button>
  </form>
  <h2>Or register</h2>
  <form method="post" action="/register">
    <input name="username" placeholder="name" autocomplete="username" required>
    <input name="password" type="password" placeholder="password (8+ characters)" autocomplete="new-password" required>
    <button>Register</button>
  </form>
{{end}}`))

var privatePage = template.Must(template.New("private").Parse(`<!doctype html><title>private</title>` + style + `
<h1>Hello, {{.User}}</h1>
<p>Only you see this page. You signed in at {{.Since}}.</p>
<form method="post" action="/logout"><button>Sign out</button></form>
<p><a href="/">Home</a></p>`))
