// Command spa serves a single-page app that keeps its JWT in memory — never
// in localStorage — and renews it from a refresh token held in an HttpOnly
// cookie that only the refresh endpoint receives. A reload of the page
// costs one refresh, not a new sign-in.
//
//	go run ./examples/spa             # http://127.0.0.1:8083, user alice / wonderland-42
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8083", "listen address")
	flag.Parse()

	st := store.NewMemory() // refresh families and JWT revocations
	defer st.Close()
	app, err := newApp(st, hash.New(hash.Config{}), map[string]string{"alice": "wonderland-42"})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("spa on http://%s (user alice, password wonderland-42)", *addr)
	log.Fatal(srv.ListenAndServe())
}

const refreshPath = "/api/refresh"

type app struct {
	hasher  *hash.Hasher
	users   map[string]string // name → password hash
	tokens  *token.Manager    // refresh tokens: rotation, reuse detection
	keys    *jwt.KeySet
	issuer  *jwt.Issuer
	jwts    *jwt.Verifier
	refresh cookie.Template
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
	a := &app{
		hasher: h,
		users:  map[string]string{},
		tokens: token.New(st),
		keys:   keys,
		issuer: jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: "spa", Audience: []string{"spa"}, TTL: 5 * time.Minute}),
		jwts:   jwt.NewVerifier(keys, jwt.Config{Issuer: "spa", Audience: "spa", Store: st, IdentityClaims: []string{"fid"}}),
	}
	for name, pw := range users {
		if a.users[name], err = h.Hash(context.Background(), pw); err != nil {
			return nil, err
		}
	}
	// __Secure-: the browser keeps it only if Secure. HttpOnly: scripts
	// never see it. Path: sent to the refresh endpoint and nowhere else.
	// SameSite=Strict: never sent from another site.
	a.refresh = cookie.New("__Secure-refresh")
	a.refresh.Path = refreshPath
	a.refresh.SameSite = http.SameSiteStrictMode
	a.refresh.MaxAge = token.DefaultRefreshLifetime

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", page(indexHTML, "text/html; charset=utf-8"))
	mux.HandleFunc("GET /app.js", page(appJS, "text/javascript; charset=utf-8"))
	mux.HandleFunc("POST /api/login", a.login)
	mux.HandleFunc("POST "+refreshPath, a.refreshJWT)
	mux.HandleFunc("POST "+refreshPath+"/logout", a.logout) // under the cookie's path, so it gets the cookie
	mux.Handle("GET /.well-known/jwks.json", keys.JWKSHandler(0))
	mux.Handle("GET /api/me", authkit.Require(liveFamily{a})(http.HandlerFunc(a.me)))
	return http.NewCrossOriginProtection().Handler(mux), nil
}

// liveFamily accepts a JWT only while the refresh family it was issued
// from is alive, so that revoking the family — at logout, or when a stolen
// refresh token is replayed — also ends the JWTs already handed out.
type liveFamily struct{ a *app }

func (l liveFamily) Authenticate(r *http.Request) (*authkit.Identity, error) {
	id, err := l.a.jwts.Authenticate(r)
	if err != nil {
		return nil, err
	}
	fid, _ := id.Claims["fid"].(string)
	if _, err := l.a.tokens.Family(r.Context(), fid); err != nil {
		return nil, err // token errors match authkit.ErrInvalidCredentials; a store error is a 503
	}
	return id, nil
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

// issue signs a JWT for the family and puts its refresh token in the cookie.
func (a *app) issue(w http.ResponseWriter, rt token.Token, fam token.FamilyInfo) {
	t, err := a.issuer.Issue(jwt.Grant{Subject: fam.Subject, FamilyID: fam.ID, AuthTime: fam.AuthTime})
	if err == nil {
		err = a.refresh.Set(w, string(rt))
	}
	if err != nil {
		reply(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	reply(w, http.StatusOK, map[string]any{"access_token": t.Token, "expires_in": int(time.Until(t.ExpiresAt).Seconds())})
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
	rt, fam, err := a.tokens.IssueRefresh(r.Context(), c.Username, token.FamilyOptions{})
	if err != nil {
		reply(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	a.issue(w, rt, fam)
}

func (a *app) refreshJWT(w http.ResponseWriter, r *http.Request) {
	v, err := a.refresh.Read(r)
	if err != nil {
		reply(w, http.StatusUnauthorized, map[string]string{"error": "no_session"})
		return
	}
	rt, fam, err := a.tokens.Refresh(r.Context(), token.Token(v), "")
	switch {
	case errors.Is(err, authkit.ErrInvalidCredentials): // spent (reuse: family revoked), expired, unknown
		a.refresh.Delete(w)
		reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid_grant"})
	case err != nil:
		reply(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
	default:
		a.issue(w, rt, fam)
	}
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if v, err := a.refresh.Read(r); err == nil {
		a.tokens.Revoke(r.Context(), token.Token(v)) // revokes the family: liveFamily refuses its JWTs
	}
	a.refresh.Delete(w)
	w.WriteHeader(http.StatusNoContent)
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
  await fetch("/api/refresh/logout", { method: "POST" });
  jwt = null;
  show("signed out: the refresh family is revoked, with every JWT issued from it");
  render();
});

refresh().then(render);
`
