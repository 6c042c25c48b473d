// Command cluster shows sessions shared by several servers through Redis:
// sign in on one instance, keep working on another, stop the first — the
// session lives on, because it lives in Redis, not in either process.
//
// Start two instances on one Redis, in two terminals:
//
//	go run ./examples/cluster -name A -addr 127.0.0.1:8084
//	go run ./examples/cluster -name B -addr 127.0.0.1:8085
//
// Sign in on http://127.0.0.1:8084 (alice / wonderland-42), open
// http://127.0.0.1:8085: you are signed in there too (browsers send
// cookies to every port of a host). Stop A with Ctrl-C; B still knows you.
package main

import (
	"context"
	"errors"
	"flag"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
)

func main() {
	name := flag.String("name", "A", "this instance's name, shown on the page")
	addr := flag.String("addr", "127.0.0.1:8084", "listen address")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis address, the same for every instance")
	flag.Parse()

	client := redis.NewClient(&redis.Options{
		Addr:                  *redisAddr,
		ContextTimeoutEnabled: true, // a stalled Redis fails requests at their deadline
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
	})
	defer client.Close()
	st, err := redisstore.New(client, redisstore.Config{Prefix: "authkit-cluster:"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := st.Verify(ctx); err != nil { // a primary, Redis 6.2 or later
		log.Fatalf("redis at %s: %v", *redisAddr, err)
	}
	app, err := newApp(*name, st, hash.New(hash.Config{}), map[string]string{"alice": "wonderland-42"})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Printf("instance %s on http://%s, sessions in Redis at %s", *name, *addr, *redisAddr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

type app struct {
	name     string
	sessions *session.Manager
	hasher   *hash.Hasher
	users    map[string]string // every instance has the same users; a shared database in real life
}

// newApp builds one instance. Every instance gets the same store: that is
// all it takes to share sessions.
func newApp(name string, st store.Store, h *hash.Hasher, users map[string]string) (http.Handler, error) {
	a := &app{name: name, sessions: session.New(st, session.Config{}), hasher: h, users: map[string]string{}}
	for u, pw := range users {
		encoded, err := h.Hash(context.Background(), pw)
		if err != nil {
			return nil, err
		}
		a.users[u] = encoded
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.Handle("POST /count", authkit.Require(a.sessions)(http.HandlerFunc(a.count)))
	return http.NewCrossOriginProtection().Handler(a.sessions.Middleware(mux)), nil
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{"Instance": a.name}
	if id, err := a.sessions.Authenticate(r); err == nil {
		n, _ := session.Get[int](r.Context(), "count")
		from, _ := session.Get[string](r.Context(), "signed_in_on")
		data["User"], data["Count"], data["From"] = id.Subject, n, from
	} else if !errors.Is(err, authkit.ErrNoCredentials) && !errors.Is(err, authkit.ErrInvalidCredentials) {
		http.Error(w, "sessions unavailable", http.StatusServiceUnavailable) // Redis is down: not "signed out"
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, data)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	name, pw := r.PostFormValue("username"), r.PostFormValue("password")
	var err error
	if encoded, ok := a.users[name]; ok {
		_, err = a.hasher.Verify(r.Context(), pw, encoded)
	} else {
		err = a.hasher.VerifyDummy(r.Context(), pw)
	}
	if err != nil {
		http.Error(w, "wrong name or password", http.StatusUnauthorized)
		return
	}
	if err := a.sessions.Login(r.Context(), name); err != nil {
		http.Error(w, "sessions unavailable", http.StatusServiceUnavailable)
		return
	}
	session.Set(r.Context(), "signed_in_on", a.name)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.sessions.Logout(r.Context())
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// count changes the session on whichever instance serves the request.
func (a *app) count(w http.ResponseWriter, r *http.Request) {
	n, _ := session.Get[int](r.Context(), "count")
	session.Set(r.Context(), "count", n+1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var page = template.Must(template.New("").Parse(`<!doctype html><meta charset="utf-8"><title>instance {{.Instance}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}.i{font-size:3rem;font-weight:800;color:#0f766e}</style>
<p>Served by instance</p><p class="i">{{.Instance}}</p>
{{if .User}}
<p>Signed in as <strong>{{.User}}</strong> on instance {{.From}}. Counter: <strong>{{.Count}}</strong>.</p>
<form method="post" action="/count"><button>Count +1 (on this instance)</button></form>
<form method="post" action="/logout"><button>Sign out (everywhere: the session is deleted from Redis)</button></form>
{{else}}
<form method="post" action="/login"><input name="username" value="alice"> <input name="password" type="password" placeholder="wonderland-42"> <button>Sign in</button></form>
{{end}}`))
