// Command demo is authkit's showcase server. This first version shows the
// foundation: a Guard protecting a route, and credentials kept in the
// in-memory store under the SHA-256 of their secret. The full demo — cookie,
// session, token and JWT side by side — grows from it as the packages land.
//
//	go run ./examples/demo            # listens on 127.0.0.1:8080
//	curl -X POST 127.0.0.1:8080/api/demo-token
//	curl -H "Authorization: Bearer <token>" 127.0.0.1:8080/api/me
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/store"
)

const tokenPrefix = "demo_"

type demoTokens struct{ st store.Store }

func (d demoTokens) Authenticate(r *http.Request) (*authkit.Identity, error) {
	tok, err := authkit.BearerToken(r)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(tok, tokenPrefix) {
		return nil, authkit.ErrNoCredentials
	}
	sub, err := d.st.Get(r.Context(), keyhash.Key("demo:", tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil, authkit.ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	return &authkit.Identity{Subject: string(sub), Method: "token"}, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	st := store.NewMemory()
	defer st.Close()
	tokens := demoTokens{st}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/demo-token", func(w http.ResponseWriter, r *http.Request) {
		tok := tokenPrefix + secret.Base62(32)
		if err := st.Set(r.Context(), keyhash.Key("demo:", tok), []byte("demo-user"), time.Now().Add(time.Hour)); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	})
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := authkit.IdentityFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"subject": id.Subject, "method": id.Method})
	})
	mux.Handle("GET /api/me", (&authkit.Guard{Realm: "authkit-demo"}).Require(tokens)(me))

	srv := &http.Server{Addr: *addr, Handler: http.NewCrossOriginProtection().Handler(mux), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("authkit demo listening on http://%s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	_ = srv.Shutdown(context.Background())
}
