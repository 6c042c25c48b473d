package session_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// lostUpdate sends n concurrent requests on one session, each setting its
// own key after every request has loaded the session, and checks that all n
// keys are present afterwards.
func lostUpdate(t *testing.T, st store.Store, n int) {
	m := session.New(st, session.Config{})
	var loaded sync.WaitGroup
	loaded.Add(n)
	allLoaded := make(chan struct{})
	go func() { loaded.Wait(); close(allLoaded) }()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		if err := session.Set(r.Context(), "init", true); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// Load the session, then wait until every request has loaded it,
		// so all of them start from the same stored version.
		if _, err := session.Get[bool](ctx, "init"); err != nil {
			t.Error(err)
		}
		loaded.Done()
		select {
		case <-allLoaded:
		case <-time.After(10 * time.Second):
			t.Error("requests did not overlap")
		}
		if err := session.Set(ctx, "k"+r.FormValue("i"), r.FormValue("i")); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		missing := 0
		for i := range n {
			if _, err := session.Get[string](r.Context(), "k"+strconv.Itoa(i)); err != nil {
				missing++
			}
		}
		fmt.Fprint(w, n-missing)
	})
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := srv.Client()
	hc.Jar = jar

	post := func(path string) error {
		res, err := hc.Post(srv.URL+path, "", nil)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return fmt.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
		return nil
	}
	if err := post("/init"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := post("/set?i=" + strconv.Itoa(i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	res, err := hc.Get(srv.URL + "/count")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != strconv.Itoa(n) {
		t.Errorf("%s of %d concurrent writes kept", body, n)
	}
}

func TestLostUpdateMemory(t *testing.T) {
	lostUpdate(t, newMemory(t), 200)
}

func TestStreamingNotBuffered(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	gotFirst := make(chan struct{})
	handlerDone := make(chan struct{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		if err := session.Set(r.Context(), "k", "v"); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-gotFirst:
		case <-time.After(10 * time.Second):
			t.Error("the client did not receive the first event while the handler ran: the response is buffered")
		}
		io.WriteString(w, "data: second\n\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// The session was committed with the headers, before the body.
	if len(res.Cookies()) != 1 {
		t.Errorf("streamed response cookies: %v", res.Cookies())
	}
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	select {
	case <-handlerDone:
		t.Error("handler returned before the client read the first event")
	default:
	}
	close(gotFirst)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestConcurrentGoroutinesInOneRequest(t *testing.T) {
	m := session.New(newMemory(t), session.Config{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				k := "g" + strconv.Itoa(i)
				if err := session.Set(r.Context(), k, i); err != nil {
					t.Error(err)
				}
				if v, err := session.Get[int](r.Context(), k); err != nil || v != i {
					t.Errorf("%s = %d, %v", k, v, err)
				}
			})
		}
		wg.Wait()
	}))
	c := newClient(t, h)
	c.body("POST", "/")
	h2 := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 20 {
			if _, err := session.Get[int](r.Context(), "g"+strconv.Itoa(i)); err != nil {
				t.Errorf("g%d: %v", i, err)
			}
		}
	}))
	c.h = h2
	c.body("GET", "/")
}

func TestSaveNeverResurrects(t *testing.T) {
	// A request loads the session; another logs it out; the first then
	// saves a change. The session must stay dead.
	st := newMemory(t)
	var logs logBuf
	m := session.New(st, session.Config{Logger: logs.logger()})
	loaded, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slow-set", func(w http.ResponseWriter, r *http.Request) {
		if _, err := session.Get[string](r.Context(), "x"); err != nil && !errors.Is(err, session.ErrNotFound) {
			t.Error(err)
		}
		close(loaded)
		<-release
		if err := session.Set(r.Context(), "late", "v"); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Logout(r.Context()); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Login(r.Context(), "alice"); err != nil {
			t.Error(err)
		}
	})
	h := m.Middleware(mux)
	c := newClient(t, h)
	c.body("POST", "/login")
	id := c.cookie()
	slow := newClient(t, h)
	slow.setCookie(id)
	done := make(chan *http.Response)
	go func() {
		res, _ := slow.do("POST", "/slow-set")
		done <- res
	}()
	<-loaded
	c.body("POST", "/logout")
	close(release)
	res := <-done
	if res.StatusCode != 200 {
		t.Errorf("slow request: %d", res.StatusCode)
	}
	for k := range st.All() {
		t.Errorf("logged-out session resurrected: %s", k)
	}
	if !strings.Contains(logs.String(), "changes were discarded") {
		t.Errorf("discarded change not logged: %s", logs.String())
	}
}

// Requests sent in parallel with a login still carry the pre-login ID.
// Whether they reach the server after the login or started before it and
// save after it, their responses must not touch the cookie: a deletion or a
// new session's cookie would overwrite the login's cookie in the browser
// if it arrived last, logging the user out.
func TestParallelRequestsDuringLogin(t *testing.T) {
	st := newMemory(t)
	m := session.New(st, session.Config{Logger: slog.New(slog.DiscardHandler)})
	loaded, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slow-set", func(w http.ResponseWriter, r *http.Request) {
		if _, err := session.Get[string](r.Context(), "cart"); err != nil {
			t.Error(err)
		}
		close(loaded)
		<-release
		if err := session.Set(r.Context(), "late", "v"); err != nil {
			t.Error(err)
		}
	})
	h := m.Middleware(mux)
	a := app(m)
	c := newClient(t, a)
	c.body("POST", "/set?k=cart&v=3")
	pre := c.cookie()

	// Started before the login, saves after it.
	slow := newClient(t, h)
	slow.setCookie(pre)
	done := make(chan *http.Response)
	go func() {
		res, _ := slow.do("POST", "/slow-set")
		done <- res
	}()
	<-loaded
	c.body("POST", "/login?u=alice")
	post := c.cookie()
	close(release)
	if res := <-done; len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("request that saved after the login touched the cookie: %q", res.Header.Values("Set-Cookie"))
	}

	// Arrives after the login.
	parallel := newClient(t, a)
	parallel.setCookie(pre)
	for _, tc := range []struct{ method, target, want string }{
		{"GET", "/whoami", "invalid"},
		{"GET", "/get?k=cart", "-"},
		{"POST", "/set?k=x&v=1", "error: " + session.ErrEnded.Error() + ": the session ID was just renewed by another request\n"},
	} {
		res, body := parallel.do(tc.method, tc.target)
		if body != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.method, tc.target, body, tc.want)
		}
		if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("%s %s touched the cookie: %q", tc.method, tc.target, sc)
		}
	}
	if got := c.body("GET", "/whoami"); got != "alice" || c.cookie() != post {
		t.Errorf("after the parallel requests: %q", got)
	}
	if got := c.body("GET", "/get?k=cart"); got != "3" {
		t.Errorf("cart = %q", got)
	}
	// No session was created for the parallel requests.
	n := 0
	for k, v := range st.All() {
		// Version 1 is a record; tombstones and revoked markers start
		// with bytes no record version uses.
		if strings.HasPrefix(k, "sess:") && v[0] == 1 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d live session records, want 1", n)
	}
}
