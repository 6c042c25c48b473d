package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authkit/authkit/bench/internal/redisproc"
	"github.com/authkit/authkit/session"
)

// The demo's seeded account.
const demoUser, demoPassword = "demo", "demo-password"

// runDemo builds examples/demo from the module at root, runs it on a
// private Redis and exercises it like the in-process server. The demo is a
// main package, so it runs as a subprocess; its store deadline comes from
// its -store-timeout flag (store.WithTimeout), and its goroutines cannot be
// counted from here.
func runDemo(ctx context.Context, rep *report, root string) error {
	dir, err := os.MkdirTemp("", "authkit-bench-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "demo")
	build := exec.Command("go", "build", "-o", bin, "./examples/demo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./examples/demo: %v: %s", err, out)
	}

	rs, err := redisproc.Start(ctx)
	if err != nil {
		return err
	}
	defer rs.Stop()
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rc.Close()

	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	timeout := storeDeadline.String()
	if *demoDefaults {
		timeout = "0"
	}
	query := "pool_size=" + strconv.Itoa(2**workers)
	storeURL := "redis://" + rs.Addr + "/0?" + query
	logPath := filepath.Join(dir, "demo.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "-addr", addr, "-store", storeURL, "-store-timeout", timeout)
	// On a shared store the demo needs a key-encryption key for its keyring:
	// 32 random bytes in base64.
	kek := make([]byte, 32)
	rand.Read(kek)
	cmd.Env = append(os.Environ(), "AUTHKIT_KEK="+base64.StdEncoding.EncodeToString(kek))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	url := "http://" + addr
	const bare = "/.well-known/jwks.json"
	if err := waitReady(url + bare); err != nil {
		tail, _ := os.ReadFile(logPath)
		return fmt.Errorf("demo did not start: %v: %s", err, lastLines(tail, 5))
	}

	c := newClient(url, bare, *workers)
	creds, err := demoCredentials(c, 12)
	if err != nil {
		return err
	}
	t := &target{
		name: "demo",
		describe: fmt.Sprintf("### The demo (examples/demo)\n\nThe demo server built from this tree and run as a subprocess: `demo -addr %s -store 'redis://…/0?%s' -store-timeout %s` on a private redis-server (%s). Its `GET /api/me` is `Guard.Require(sessions, tokens, jwts)` behind its full middleware stack (cross-origin protection, security headers, cookie inspector, session Middleware); its JWTs are EdDSA, verified with revocation on, so every JWT verification reads the store. The store deadline is the demo's `-store-timeout` (`store.WithTimeout` around its Redis store). *Bare* is `GET %s`, the demo's cheapest route through the same stack without authentication or store access. Credentials: 12 of each kind from the demo's JSON login API (user `demo`); the load has no logins (each is an Argon2id verification, and the demo throttles them). The demo runs in another process, so its goroutines are not counted.\n\n",
			addr, query, timeout, serverVersion(ctx, rc), bare),
		url: url, bare: bare, creds: creds,
		pause: rs.Pause, resume: rs.Resume,
		panics: func() int {
			d, _ := os.ReadFile(logPath)
			return bytes.Count(d, []byte("panic"))
		},
	}
	exercise(t, c, rep)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLines(b []byte, n int) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " / ")
}

// demoCredentials logs in n times with each method of the demo's JSON API.
func demoCredentials(c *client, n int) (map[string][]*credential, error) {
	body, _ := json.Marshal(map[string]string{"username": demoUser, "password": demoPassword})
	post := func(path string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(http.MethodPost, c.url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return resp, b, err
	}
	out := map[string][]*credential{}
	for range n {
		resp, _, err := post("/api/session/login")
		if err != nil {
			return nil, err
		}
		var sc string
		for _, ck := range resp.Cookies() {
			if ck.Name == session.DefaultCookieName {
				sc = ck.Value
			}
		}
		if sc == "" {
			return nil, fmt.Errorf("session login: no %s cookie", session.DefaultCookieName)
		}
		out["session"] = append(out["session"], &credential{kind: "session", subject: demoUser, cookie: sc})
		for _, kind := range []string{"token", "jwt"} {
			_, b, err := post("/api/" + kind + "/login")
			if err != nil {
				return nil, err
			}
			var got struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(b, &got); err != nil || got.AccessToken == "" {
				return nil, fmt.Errorf("%s login: no access_token in %s", kind, b)
			}
			out[kind] = append(out[kind], &credential{kind: kind, subject: demoUser, bearer: got.AccessToken})
		}
	}
	return out, nil
}
