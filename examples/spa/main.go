// Command spa serves a single-page app that keeps its JWT in memory — never
// in localStorage — and renews it from a refresh token held in an HttpOnly
// cookie that only the refresh endpoint receives. A reload of the page
// costs one refresh, not a new sign-in. A jwtpair.Manager issues both
// tokens, rotates the refresh token and serves the refresh endpoint.
//
//	go run ./examples/spa             # http://127.0.0.1:8083, user alice / wonderland-42
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/jwtpair"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "listen address")
	flag.Parse()

	st := store.NewMemory(store.MemoryConfig{}) // refresh families and JWT revocations
	defer st.Close()
	app, err := newApp(st, hash.New(hash.Config{}), map[string]string{"alice": "wonderland-42"})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("spa on http://%s (user alice, password wonderland-42)", *addr)
	log.Fatal(srv.ListenAndServe())
}

// refreshPath is the refresh endpoint, and the only path the refresh
// cookie is sent to: POST renews the JWT, DELETE signs out.
const refreshPath = "/api/refresh"

type app struct {
	hasher *hash.Hasher
	users  map[string]string // name → password hash
	pairs  *jwtpair.Manager  // access JWT + refresh token in a cookie
}

func newApp(st store.Store, h *hash.Hasher, users map[string]string) (http.Handler, error) {
	// A new key at every start. In production load it (jwt.LoadKeyFile,
	// jwt.KeyFromEnv) so that restarts and other instances keep verifying.
	key, err := jwt.GenerateKey(jwt.EdDSA)
	if err != nil {
		return nil, err
	}
	keys, err := jwt.NewKeySet(key)
	if err != nil {
		return nil, err
	}
	jwts := jwt.NewVerifier(keys, jwt.Config{Issuer: "spa", Audience: "spa", Store: st})
	tokens := token.New(st, token.Config{})
	issuer := jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: "spa", Audience: []string{"spa"}, Lifetime: 5 * time.Minute})
	a := &app{
		hasher: h,
		users:  map[string]string{},
		// jwtpair.New tells the verifier whenever the token manager revokes
		// a refresh family — at sign-out, or when a stolen refresh cookie is
		// replayed: the JWTs issued from the family (their fid claim) are
		// then refused at once, within the verifier's one store read. The
		// refresh token travels in __Secure-refresh: HttpOnly (scripts never
		// see it), Secure, SameSite=Strict, Path=/api/refresh.
		pairs: jwtpair.New(issuer, jwts, tokens, jwtpair.Config{RefreshPath: refreshPath}),
	}
	for name, pw := range users {
		if a.users[name], err = h.Hash(context.Background(), pw); err != nil {
			return nil, err
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", page(indexHTML, "text/html; charset=utf-8"))
	mux.HandleFunc("GET /app.js", page(appJS, "text/javascript; charset=utf-8"))
	mux.HandleFunc("POST /api/login", a.login)
	mux.Handle(refreshPath, a.pairs.Handler()) // POST: a new JWT and cookie; DELETE: sign out
	mux.Handle("GET /.well-known/jwks.json", keys.JWKSHandler(0))
	mux.Handle("GET /api/me", authkit.Require(jwts)(http.HandlerFunc(a.me)))
	return http.NewCrossOriginProtection().Handler(mux), nil
}

func page(body, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'")
		fmt.Fprint(w, body)
	}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	var c struct{ Username, Password string }
	if json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&c) != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	var err error
	if encoded, ok := a.users[c.Username]; ok {
		_, err = a.hasher.Verify(r.Context(), c.Password, encoded)
	} else {
		err = a.hasher.VerifyDummy(r.Context(), c.Password)
	}
	if err != nil {
		reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid_credentials"})
		return
	}
	// A new refresh family, and a JWT carrying its ID.
	pair, err := a.pairs.Issue(r.Context(), c.Username, token.FamilyOptions{})
	if err != nil {
		reply(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	// {"access_token", "token_type", "expires_in"}, and the refresh cookie.
	if err := a.pairs.WriteResponse(w, pair); err != nil {
		log.Printf("spa: answering a login: %v", err)
	}
}

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	reply(w, http.StatusOK, map[string]any{"subject": id.Subject, "expires": id.Expires})
}

const indexHTML = `<!doctype html>
<meta charset="utf-8"><title>spa</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem}
form{display:flex;gap:.5rem}input,button{font:inherit;padding:.4rem .6rem}pre{background:#f3f4f6;padding:.75rem;border-radius:6px;white-space:pre-wrap}</style>
<h1>spa</h1>
<p id="who">…</p>
<form id="login" hidden><input name="username" value="alice"><input name="password" type="password" placeholder="wonderland-42"><button>Sign in</button></form>
<p id="actions" hidden><button id="me">Call /api/me</button> <button id="logout">Sign out</button></p>
<pre id="out"></pre>
<script src="/app.js"></script>`

// The page's script. The JWT lives in the variable jwt: gone on reload,
// and a reload costs one call to /api/refresh, where the cookie goes.
const appJS = `"use strict";
let jwt = null;
const $ = (id) => document.getElementById(id);
const show = (x) => { $("out").textContent = typeof x === "string" ? x : JSON.stringify(x, null, 2); };

async function refresh() {
  const r = await fetch("/api/refresh", { method: "POST" });
  if (!r.ok) { jwt = null; return false; }
  jwt = (await r.json()).access_token;
  return true;
}

// api calls the API with the JWT, renewing it once if it has expired.
async function api(path) {
  let r = await fetch(path, { headers: { Authorization: "Bearer " + jwt } });
  if (r.status === 401 && await refresh()) {
    r = await fetch(path, { headers: { Authorization: "Bearer " + jwt } });
  }
  return r.json();
}

function render() {
  $("who").textContent = jwt ? "Signed in (JWT in memory, refresh token in an HttpOnly cookie)." : "Signed out.";
  $("login").hidden = !!jwt;
  $("actions").hidden = !jwt;
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target.elements;
  const r = await fetch("/api/login", { method: "POST", body: JSON.stringify({ username: f.username.value, password: f.password.value }) });
  const body = await r.json();
  if (r.ok) jwt = body.access_token;
  show(body);
  render();
});
$("me").addEventListener("click", async () => show(await api("/api/me")));
$("logout").addEventListener("click", async () => {
  await fetch("/api/refresh", { method: "DELETE" });
  jwt = null;
  show("signed out: the refresh family is revoked, with every JWT issued from it");
  render();
});

refresh().then(render);
`
