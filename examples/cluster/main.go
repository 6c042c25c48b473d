// Command cluster shows sessions and JWTs shared by several servers through
// Redis: sign in on one instance, keep working on another, stop the first —
// the session lives on, because it lives in Redis, not in either process;
// and a JWT signed by one instance verifies on every other, because the
// signing keys live in Redis too, encrypted, in a keyring that rotates them.
//
// Start two instances on one Redis, in two terminals, with the same
// key-encryption key:
//
//	export AUTHKIT_KEK=$(openssl rand -base64 32)
//	go run ./examples/cluster -name A -addr 127.0.0.1:8084
//	go run ./examples/cluster -name B -addr 127.0.0.1:8085
//
// Sign in on http://127.0.0.1:8084 (alice / wonderland-42), open
// http://127.0.0.1:8085: you are signed in there too (browsers send
// cookies to every port of a host). Get a JWT from A and call B with it
// (the page shows the curl command). Stop A with Ctrl-C; B still knows you
// and still verifies A's JWT.
package main

import (
	"context"
	"encoding/json"
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
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/keyring"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/redisstore"
)

func main() {
	name := flag.String("name", "A", "this instance's name, shown on the page")
	addr := flag.String("addr", "127.0.0.1:8084", "listen address")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis address, the same for every instance")
	flag.Parse()
	keks, err := keyring.KEKsFromEnv("AUTHKIT_KEK") // the same on every instance
	if err != nil {
		log.Fatalf("%v: export AUTHKIT_KEK=$(openssl rand -base64 32) before starting the instances", err)
	}

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
	app, err := newApp(ctx, *name, st, keks, hash.New(hash.Config{}), map[string]string{"alice": "wonderland-42"})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
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
	http.Handler
	name     string
	sessions *session.Manager
	keys     *keyring.Keyring
	issuer   *jwt.Issuer
	jwts     *jwt.Verifier
	hasher   *hash.Hasher
	users    map[string]string // every instance has the same users; a shared database in real life
}

// jwtLifetime is the lifetime of the JWTs an instance issues.
const jwtLifetime = 15 * time.Minute

// newApp builds one instance. Every instance gets the same store: that is
// all it takes to share sessions. With the same key-encryption key, the
// keyring in that store gives every instance the same JWT keys.
func newApp(ctx context.Context, name string, st store.Store, keks []*keyring.KEK, h *hash.Hasher, users map[string]string) (*app, error) {
	kr, err := keyring.New(st, keyring.Config{KEKs: keks})
	if err != nil {
		return nil, err
	}
	keys, err := kr.KeySet(ctx, jwt.ES256, keyring.Schedule{MaxLifetime: jwtLifetime})
	if err != nil {
		kr.Close()
		return nil, err
	}
	a := &app{name: name, sessions: session.New(st, session.Config{}), keys: kr, hasher: h, users: map[string]string{}}
	a.issuer = jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: "authkit-cluster", Lifetime: jwtLifetime})
	a.jwts = jwt.NewVerifier(keys, jwt.Config{Issuer: "authkit-cluster", Store: st})
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
	mux.Handle("POST /token", authkit.Require(a.sessions)(http.HandlerFunc(a.token)))
	mux.Handle("GET /api/me", authkit.Require(a.jwts)(http.HandlerFunc(a.me)))
	mux.Handle("GET /.well-known/jwks.json", kr.JWKSHandler())
	a.Handler = http.NewCrossOriginProtection().Handler(a.sessions.Middleware(mux))
	return a, nil
}

// Close stops the keyring's background reloads.
func (a *app) Close() error { return a.keys.Close() }

func (a *app) home(w http.ResponseWriter, r *http.Request) { a.render(w, r, "") }

// render shows the page, with a JWT just issued if there is one.
func (a *app) render(w http.ResponseWriter, r *http.Request, jwt string) {
	data := map[string]any{"Instance": a.name, "Keys": a.keys.Keys(), "Host": r.Host, "JWT": jwt}
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

// token signs a JWT for the session's user with this instance's current
// key and shows it once, on the page it answers with; it is not stored.
func (a *app) token(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	is, err := a.issuer.Issue(jwt.Grant{Subject: id.Subject})
	if err != nil {
		http.Error(w, "cannot sign a token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, r, is.Token)
}

// me answers a JWT-authenticated call, whichever instance signed the JWT.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"subject": id.Subject, "verified_by": a.name})
}

// shortID shortens a key ID for the page.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

var page = template.Must(template.New("").Funcs(template.FuncMap{"short": shortID}).Parse(`<!doctype html><meta charset="utf-8"><title>instance {{.Instance}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}.i{font-size:3rem;font-weight:800;color:#0f766e}</style>
<p>Served by instance</p><p class="i">{{.Instance}}</p>
{{if .User}}
<p>Signed in as <strong>{{.User}}</strong> on instance {{.From}}. Counter: <strong>{{.Count}}</strong>.</p>
<form method="post" action="/count"><button>Count +1 (on this instance)</button></form>
<form method="post" action="/logout"><button>Sign out (everywhere: the session is deleted from Redis)</button></form>
<form method="post" action="/token"><button>Get a JWT signed by instance {{.Instance}}</button></form>
{{if .JWT}}<p>A JWT signed by instance {{.Instance}}, valid 15 minutes — call any instance with it:</p>
<pre style="white-space:pre-wrap;word-break:break-all">curl -s http://{{.Host}}/api/me -H 'Authorization: Bearer {{.JWT}}'</pre>{{end}}
{{else}}
<form method="post" action="/login"><input name="username" value="alice"> <input name="password" type="password" placeholder="wonderland-42"> <button>Sign in</button></form>
{{end}}
<p>JWT keys (ES256), shared through Redis by every instance — IDs and states, never the keys:</p>
<ul>{{range .Keys}}<li><code>{{short .ID}}</code> {{.State}}</li>{{end}}</ul>`))
