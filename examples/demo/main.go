// Command demo is authkit's showcase: one server where you sign in with a
// sealed cookie, a server-side session, an opaque token and a JWT, and see —
// on one page — what travels over the wire and what the server keeps.
//
//	go run ./examples/demo                      # http://127.0.0.1:8080, in-memory store
//	go run ./examples/demo -store redis://127.0.0.1:6379/0
//	go run ./examples/demo -store 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//	go run ./examples/demo -store 'mysql://root@127.0.0.1:3306/test'
//	go run ./examples/demo -store sqlite:demo.db
//
//	export AUTHKIT_KEK=$(openssl rand -base64 32)   # instances on one store share keys
//	go run ./examples/demo -store redis://127.0.0.1:6379/0 -addr 127.0.0.1:8080
//	go run ./examples/demo -store redis://127.0.0.1:6379/0 -addr 127.0.0.1:8081
//
//	go run ./examples/demo -oidc-issuer https://login.example.com -oidc-client-id … -oidc-client-secret …
//
// A demo user is created at start-up ("demo", password "demo-password") with
// a legacy bcrypt hash, so the first login shows the upgrade to argon2id.
// The "Sign in with SSO" panel uses a local stand-in identity provider that
// the demo runs itself on another loopback port, unless -oidc-issuer names
// a real one.
// examples/README.md describes what to look at.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authkit/authkit/store"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	storeURL := fs.String("store", "memory", "where state lives: memory, redis://…, postgres://…, mysql://… or sqlite:path")
	proxies := fs.String("trusted-proxy", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For is believed (empty: none)")
	storeTimeout := fs.Duration("store-timeout", time.Second, "bound on each call to a Redis or SQL store: a stalled server answers 503 after this, not never")
	seed := fs.Bool("seed", true, `create the user "demo" (password "demo-password") with a legacy bcrypt hash if it does not exist`)
	publicURL := fs.String("public-url", "", "the demo's origin as browsers reach it, for the SSO redirect URI (empty: http:// and the listen address)")
	kekFile := fs.String("kek-file", "", "file holding the keyring's key-encryption key (default: the environment variable "+kekEnv+"); instances sharing a store need the same one")
	var sso ssoConfig
	fs.StringVar(&sso.Issuer, "oidc-issuer", "", "issuer of a real OpenID provider for the SSO panel (empty: a local stand-in provider)")
	fs.StringVar(&sso.ClientID, "oidc-client-id", "", "client ID registered with -oidc-issuer")
	fs.StringVar(&sso.ClientSecret, "oidc-client-secret", "", "client secret registered with -oidc-issuer (or the environment variable AUTHKIT_OIDC_CLIENT_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if sso.ClientSecret == "" {
		sso.ClientSecret = os.Getenv("AUTHKIT_OIDC_CLIENT_SECRET")
	}
	if sso.Issuer != "" && sso.ClientID == "" {
		return errors.New("-oidc-issuer needs -oidc-client-id")
	}
	trusted, err := parsePrefixes(*proxies)
	if err != nil {
		return fmt.Errorf("-trusted-proxy: %w", err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, desc, closeStore, err := openStore(ctx, *storeURL)
	if err != nil {
		return fmt.Errorf("-store: %w", err)
	}
	defer closeStore()
	keks, err := loadKEKs(*kekFile, *storeURL)
	if err != nil {
		return err
	}
	if _, inMemory := st.(*store.Memory); !inMemory && *storeTimeout > 0 {
		st = store.WithTimeout(st, *storeTimeout)
	}

	// Listen first: the SSO panel's redirect URI needs the address.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *publicURL == "" {
		*publicURL = originOf(ln.Addr())
	}
	srv, err := newServer(config{
		Store:          st,
		StoreName:      desc,
		TrustedProxies: trusted,
		SeedDemoUser:   *seed,
		PublicURL:      strings.TrimSuffix(*publicURL, "/"),
		SSO:            sso,
		KEKs:           keks,
		Logger:         logger,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("authkit demo listening", "url", "http://"+ln.Addr().String(), "store", desc)
	if *seed {
		logger.Info(`sign in as "demo" with password "demo-password", or register a user`)
	}
	if srv.sso != nil && srv.sso.idp == nil {
		logger.Info("SSO with a real provider: register this redirect URI with it", "redirect_uri", srv.sso.redirect)
	} else if srv.sso != nil {
		logger.Info("SSO: a local stand-in identity provider runs at "+srv.sso.issuer, "users", "jane / jane-password, sam / sam-password")
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// originOf returns http:// and the listen address, with an unspecified host
// (0.0.0.0, ::) replaced by 127.0.0.1.
func originOf(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
