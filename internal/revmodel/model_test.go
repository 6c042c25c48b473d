package revmodel_test

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/redistest"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/store/sqlstore"
	"github.com/authkit/authkit/token"
)

var (
	flagDuration = flag.Duration("revmodel.duration", 2*time.Second, "how long the clients run, per store")
	flagSeed     = flag.Uint64("revmodel.seed", 0, "the seed; 0 picks one (printed on failure)")
	flagClients  = flag.Int("revmodel.clients", 8, "concurrent clients")
	flagFaults   = flag.Float64("revmodel.faults", 0.02, "fraction of store calls that fail")
)

var subjects = []string{"alice", "bob", "carol"}

func TestRevocationModel(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Run("memory", func(t *testing.T) {
		st := store.NewMemory(store.MemoryConfig{})
		t.Cleanup(func() { st.Close() })
		runModel(t, st, seed)
	})
	t.Run("redis", func(t *testing.T) {
		runModel(t, redistest.Store(t, "revmodel"), seed)
	})
	for _, b := range []struct {
		name, env, driver string
		dialect           sqlstore.Dialect
	}{
		{"postgres", "AUTHKIT_POSTGRES_DSN", "pgx", sqlstore.PostgreSQL},
		{"mysql", "AUTHKIT_MYSQL_DSN", "mysql", sqlstore.MySQL},
	} {
		t.Run(b.name, func(t *testing.T) {
			dsn := os.Getenv(b.env)
			if dsn == "" {
				t.Skip(b.env + " is not set")
			}
			runModel(t, sqlStore(t, b.driver, dsn, b.dialect), seed)
		})
	}
}

// sqlStore returns a Store on a table of its own in the database dsn
// names, and drops the table at the end.
func sqlStore(t *testing.T, driver, dsn string, dialect sqlstore.Dialect) store.Store {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	table := fmt.Sprintf("revmodel_%d", rand.Uint64()%1e12)
	st := sqlstore.New(db, sqlstore.Config{Dialect: dialect, Table: table, CleanupInterval: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("%s: %v", driver, err)
	}
	t.Cleanup(func() {
		st.Close()
		if _, err := db.Exec("DROP TABLE IF EXISTS " + table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	return st
}

// world is the system under test and the log of what clients did to it.
type world struct {
	t        *testing.T
	st       *flaky
	sessions *session.Manager
	tokens   *token.Manager
	issuer   *jwt.Issuer
	verifier *jwt.Verifier
	app      *app

	clock atomic.Int64 // logical time: every call's start and end get a tick

	mu      sync.Mutex
	creds   []*cred
	revokes []*revocation
	alarms  []string // refresh retries refused as reuse (R5)
}

func (w *world) tick() int64 { return w.clock.Add(1) }

type kind int

const (
	kindSession kind = iota
	kindAccess
	kindRefresh
	kindJWT
)

func (k kind) String() string {
	return [...]string{"session", "access token", "refresh token", "JWT"}[k]
}

// cred is a credential handed out to a client.
type cred struct {
	kind       kind
	subject    string
	value      string // the cookie value or the token
	start, end int64  // the call that handed it out
	op         string
	parent     *cred  // the credential it was derived from (RenewID, Refresh), or nil
	family     string // refresh family ID (refresh tokens, their access tokens, JWTs bound to them)
	handle     string // a session's handle, once known
	superseded bool   // a refresh token rotated by its holder
}

// root is the credential whose sign-in c descends from.
func (c *cred) root() *cred {
	for c.parent != nil {
		c = c.parent
	}
	return c
}

// descends reports whether c is a or derived from it.
func (c *cred) descends(a *cred) bool {
	for ; c != nil; c = c.parent {
		if c == a {
			return true
		}
	}
	return false
}

// revocation is a revoke call and what it covers.
type revocation struct {
	op         string
	subject    string
	start, end int64
	err        error
	target     *cred  // Logout, RevokeID, RevokeOthers (the session kept), RevokeToken
	family     string // RevokeFamily
	retried    bool
}

// covers reports whether r ends c, and the credential whose issue time
// decides whether c must be refused (it must when that credential was
// handed out before r began): the sign-in c descends from for subject-wide
// revocations — a login that overlaps a revocation may take effect after
// it — and the revoked credential itself otherwise.
func (r *revocation) covers(c *cred) (anchor *cred, ok bool) {
	if c.subject != r.subject {
		return nil, false
	}
	switch r.op {
	case "RevokeSubject":
		return c.root(), true
	case "Logout", "RevokeID":
		return r.target, c.kind == kindSession && c.descends(r.target)
	case "RevokeOthers":
		return c.root(), c.kind == kindSession && c.root() != r.target.root()
	case "RevokeFamily":
		return c.root(), c.family == r.family
	case "RevokeToken":
		if r.target.kind == kindRefresh {
			return c.root(), c.family == r.target.family
		}
		return r.target, c == r.target
	}
	panic("unknown revocation " + r.op)
}

func runModel(t *testing.T, inner store.Store, seed uint64) {
	t.Logf("seed %d (rerun with -revmodel.seed=%d)", seed, seed)
	w := &world{t: t, st: &flaky{Store: inner, rate: *flagFaults}}
	quiet := slog.New(slog.DiscardHandler)
	w.sessions = session.New(w.st, session.Config{InsecureSkipCSRFCheck: true, Logger: quiet})
	// Grace bounds the one case where a failed refresh's retry is reuse
	// (the rotation applied, its reply and the read-back both lost); with
	// it set, R5 holds without exception, which is what the model checks.
	w.tokens = token.New(w.st, token.Config{Logger: quiet, Grace: 2 * time.Second})
	key, err := jwt.GenerateKey(jwt.HS256)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := jwt.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	w.issuer = jwt.NewIssuer(keys, jwt.IssuerConfig{Issuer: "revmodel", Audience: []string{"revmodel"}})
	w.verifier = jwt.NewVerifier(keys, jwt.Config{Issuer: "revmodel", Audience: "revmodel", Store: w.st, Logger: quiet})
	w.tokens.OnFamilyRevoked(func(ctx context.Context, f token.FamilyInfo) error {
		return w.verifier.RevokeFamily(ctx, f.Subject, f.ID)
	})
	w.app = newApp(w.sessions)

	w.st.on.Store(true)
	deadline := time.Now().Add(*flagDuration)
	var wg sync.WaitGroup
	for i := range *flagClients {
		c := &client{w: w, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
		wg.Go(func() {
			for time.Now().Before(deadline) {
				c.step()
			}
		})
	}
	wg.Wait()
	w.st.on.Store(false)
	t.Logf("%d credentials handed out, %d revocations, %d store faults injected (%d after applying)",
		len(w.creds), len(w.revokes), w.st.injected.Load(), w.st.applied.Load())
	w.retryFailed()
	w.check(seed)
}

// retryFailed calls every revocation that returned an error again, with
// faults off: it must succeed (R3), and from then on it counts as a
// revocation that began when the failed call began.
func (w *world) retryFailed() {
	ctx := context.Background()
	for _, r := range w.revokes {
		if r.err == nil {
			continue
		}
		var err error
		switch r.op {
		case "RevokeSubject":
			err = authkit.RevokeSubject(ctx, r.subject, w.sessions, w.tokens, w.verifier)
		case "Logout", "RevokeOthers":
			// Repeated through the request that asked: the client still
			// holds its cookie.
			err = w.app.do(ctx, strings.ToLower(r.op), r.target.value, "").err
		case "RevokeID":
			err = w.sessions.RevokeID(ctx, r.subject, r.target.handle)
		case "RevokeFamily":
			err = w.tokens.RevokeFamily(ctx, r.subject, r.family)
		case "RevokeToken":
			err = w.tokens.RevokeToken(ctx, token.Token(r.target.value))
		}
		if err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrEnded) && !errors.Is(err, token.ErrNotFound) {
			w.t.Errorf("R3: %s(%s) failed with %v, and again with faults off: %v", r.op, r.subject, r.err, err)
			continue
		}
		r.err, r.retried = nil, true
	}
}

// check probes every credential and checks R1–R5 against the log.
func (w *world) check(seed uint64) {
	ctx := context.Background()
	// Violations are reported by rule: a count and the first few.
	counts := map[string]int{}
	var rules []string
	fail := func(format string, a ...any) {
		rule, _, _ := strings.Cut(fmt.Sprintf(format, a...), ":")
		if counts[rule] == 0 {
			rules = append(rules, rule)
		}
		counts[rule]++
		if counts[rule] <= 5 {
			w.t.Errorf(format, a...)
		}
	}
	defer func() {
		for _, rule := range rules {
			w.t.Errorf("%s: %d violations in all (seed %d)", rule, counts[rule], seed)
		}
	}()
	alive := map[*cred]bool{}
	for _, c := range w.creds {
		ok, err := w.probe(ctx, c)
		if err != nil {
			fail("probing %s of %s: %v", c.kind, c.subject, err)
			continue
		}
		alive[c] = ok
	}
	for _, c := range w.creds {
		if !alive[c] {
			continue
		}
		// R1, R2: no credential outlives a revocation that returned nil
		// and began after the credential's sign-in was handed out. One
		// report per credential: the first such revocation.
		for _, r := range w.revokes {
			if r.err != nil {
				continue
			}
			if anchor, ok := r.covers(c); ok && anchor.end < r.start {
				fail("R1/R2 %s: %s of %s from %s [%d,%d] still valid after %s%s [%d,%d] (anchor %s [%d,%d])",
					c.kind, c.kind, c.subject, c.op, c.start, c.end, r.op, retried(r), r.start, r.end, anchor.op, anchor.start, anchor.end)
				break
			}
		}
		// R4: every credential that authenticates is listed.
		if listed, err := w.listed(ctx, c); err != nil {
			fail("listing %s of %s: %v", c.kind, c.subject, err)
		} else if !listed {
			fail("R4 %s: %s of %s from %s [%d,%d] authenticates but is not listed", c.kind, c.kind, c.subject, c.op, c.start, c.end)
		}
	}
	for _, a := range w.alarms {
		fail("R5: %s", a)
	}
}

func retried(r *revocation) string {
	if r.retried {
		return " (after a retry)"
	}
	return ""
}

// probe reports whether c still authenticates.
func (w *world) probe(ctx context.Context, c *cred) (bool, error) {
	switch c.kind {
	case kindSession:
		res := w.app.do(ctx, "whoami", c.value, "")
		if res.err != nil {
			return false, res.err
		}
		return res.body == c.subject, nil
	case kindAccess:
		_, err := w.tokens.Verify(ctx, token.Token(c.value))
		return checkRefused(err)
	case kindRefresh:
		// Probing by refreshing would rotate the family; a family's current
		// refresh token is valid exactly while the family is.
		if c.superseded {
			return false, nil
		}
		f, err := w.tokens.Family(ctx, c.family)
		if errors.Is(err, token.ErrNotFound) || errors.Is(err, token.ErrRevoked) || errors.Is(err, token.ErrExpired) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return !f.Revoked && time.Now().Before(f.IdleExpires), nil
	case kindJWT:
		_, err := w.verifier.Verify(ctx, c.value)
		return checkRefused(err)
	}
	return false, nil
}

func checkRefused(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, authkit.ErrInvalidCredentials):
		return false, nil
	}
	return false, err
}

// listed reports whether a valid c is listed for its subject (R4).
func (w *world) listed(ctx context.Context, c *cred) (bool, error) {
	switch c.kind {
	case kindSession:
		res := w.app.do(ctx, "listed", c.value, "")
		return res.body == "yes", res.err
	case kindAccess:
		info, err := w.tokens.Verify(ctx, token.Token(c.value))
		if err != nil {
			return false, err
		}
		if c.family != "" {
			return w.familyListed(ctx, c.subject, c.family)
		}
		list, err := w.tokens.List(ctx, c.subject)
		for _, x := range list {
			if x.ID == info.ID {
				return true, err
			}
		}
		return false, err
	case kindRefresh:
		return w.familyListed(ctx, c.subject, c.family)
	}
	return true, nil // a JWT is stateless: nothing lists it
}

func (w *world) familyListed(ctx context.Context, subject, id string) (bool, error) {
	fams, err := w.tokens.Families(ctx, subject)
	for _, f := range fams {
		if f.ID == id {
			return true, err
		}
	}
	return false, err
}
