// Command api is a JSON API on opaque tokens: a client signs in with a
// password and gets a short-lived access token and a refresh token; it
// calls the API with the access token and renews it with the refresh token,
// which rotates on every use. Replaying a spent refresh token revokes the
// whole family.
//
//	go run ./examples/api             # http://127.0.0.1:8082, user alice / wonderland-42
//
//	curl -s -X POST 127.0.0.1:8082/login -d '{"username":"alice","password":"wonderland-42"}'
//	curl -s 127.0.0.1:8082/notes -H "Authorization: Bearer ak_at_…"
//	curl -s -X POST 127.0.0.1:8082/refresh -d '{"refresh_token":"ak_rt_…"}'
//	curl -s -X POST 127.0.0.1:8082/revoke -d token=ak_rt_…
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	flag.Parse()

	st := store.NewMemory(store.MemoryConfig{}) // tokens; a Redis or SQL store survives restarts
	defer st.Close()
	h := hash.New(hash.Config{})
	app, err := newApp(st, h, map[string]string{"alice": "wonderland-42"})
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("api on http://%s (user alice, password wonderland-42)", *addr)
	log.Fatal(srv.ListenAndServe())
}

type app struct {
	tokens *token.Manager
	hasher *hash.Hasher
	users  map[string]string // user name → password hash; your database in real life
}

// newApp builds the API for the given users (name → password), hashing
// their passwords once.
func newApp(st store.Store, h *hash.Hasher, users map[string]string) (http.Handler, error) {
	a := &app{
		tokens: token.New(st, token.Config{AccessLifetime: 15 * time.Minute}),
		hasher: h,
		users:  map[string]string{},
	}
	for name, pw := range users {
		encoded, err := h.Hash(context.Background(), pw)
		if err != nil {
			return nil, err
		}
		a.users[name] = encoded
	}

	guard := &authkit.Guard{Realm: "notes"} // 401s carry WWW-Authenticate: Bearer realm="notes"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.Handle("/revoke", a.tokens.RevocationHandler(token.RevocationConfig{
		// Public clients: whoever holds a token may revoke it (RFC 7009).
		AuthenticateClient: func(*http.Request) (string, error) { return "", nil },
	}))
	mux.Handle("GET /notes", guard.Require(a.tokens)(guard.RequireScope("notes:read")(http.HandlerFunc(a.notes))))
	return mux, nil
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // answers about one user: no cache keeps them
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	var c struct{ Username, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&c); err != nil {
		token.WriteErrorCode(w, token.CodeInvalidRequest, "")
		return
	}
	encoded, ok := a.users[c.Username]
	var err error
	if ok {
		_, err = a.hasher.Verify(r.Context(), c.Password, encoded)
	} else {
		err = a.hasher.VerifyDummy(r.Context(), c.Password) // same cost: no user enumeration by timing
	}
	if err != nil {
		reply(w, http.StatusUnauthorized, map[string]string{"error": "invalid_credentials"})
		return
	}
	p, err := a.tokens.IssuePair(r.Context(), c.Username, token.FamilyOptions{Scopes: []string{"notes:read"}})
	if err != nil {
		a.tokens.WriteError(w, r, err) // the store is down: 503, retry later
		return
	}
	a.tokens.WriteResponse(w, p) // RFC 6749 §5.1, never cached
}

func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.RefreshToken == "" {
		token.WriteErrorCode(w, token.CodeInvalidRequest, "refresh_token is required")
		return
	}
	// The presented token is spent; presenting it again (a thief, or the
	// owner after a thief) revokes the family: token.ErrReused.
	p, err := a.tokens.RefreshPair(r.Context(), token.Token(req.RefreshToken), "")
	if err != nil {
		// 400 invalid_grant for a malformed, unknown, expired, revoked or
		// reused token; 503 when the store is down — not the client's
		// fault, and its retry with the same token is no reuse.
		a.tokens.WriteError(w, r, err)
		return
	}
	a.tokens.WriteResponse(w, p)
}

func (a *app) notes(w http.ResponseWriter, r *http.Request) {
	id, _ := authkit.IdentityFrom(r.Context())
	reply(w, http.StatusOK, map[string]any{
		"user":  id.Subject,
		"notes": []string{"buy milk", "rotate the signing key"},
	})
}
