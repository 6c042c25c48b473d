package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authkit/authkit/internal/faultstore"
)

func TestWriteResponse(t *testing.T) {
	e := newMemEnv(t, Config{})
	ctx := context.Background()
	p, err := e.m.IssuePair(ctx, "alice", FamilyOptions{Scopes: []string{"read", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := e.m.WriteResponse(w, p); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"access_token": string(p.Access), "token_type": "Bearer", "expires_in": float64(3600),
		"refresh_token": string(p.Refresh), "scope": "read write",
	}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Fatalf("body %v, want %v", body, want)
	}
	h := w.Header()
	if w.Code != 200 || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" || h.Get("Content-Type") != "application/json;charset=UTF-8" {
		t.Fatalf("%d %v", w.Code, h)
	}
}

func TestWriteError(t *testing.T) {
	var logged bytes.Buffer
	e := newMemEnv(t, Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{ErrReused, 400, CodeInvalidGrant},
		{fmt.Errorf("wrapped: %w", ErrExpired), 400, CodeInvalidGrant},
		{ErrClientMismatch, 400, CodeInvalidGrant},
		{fmt.Errorf("%w: bad scope", ErrInvalidOptions), 400, CodeInvalidRequest},
		{errors.New("token: refresh: redis at 10.0.0.7 down"), 503, CodeTemporarilyUnavailable},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		e.m.WriteError(w, httptest.NewRequest("POST", "/token", nil), c.err)
		if w.Code != c.status || w.Body.String() != `{"error":"`+c.code+`"}`+"\n" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%v: %d %q", c.err, w.Code, w.Body.String())
		}
		if (c.status == 503) != (w.Header().Get("Retry-After") == "5") {
			t.Errorf("%v: Retry-After %q", c.err, w.Header().Get("Retry-After"))
		}
	}
	if !strings.Contains(logged.String(), "10.0.0.7") {
		t.Fatalf("store failure not logged: %q", logged.String())
	}

	// A refresh that failed in the store answers 503: the client retries
	// with the same token, which is no reuse.
	f := newFaultEnv(t, memoryBackend, Config{Logger: slog.New(slog.DiscardHandler)})
	p, _ := f.m.IssuePair(context.Background(), "alice", FamilyOptions{})
	f.fs.On(faultstore.Rule{KeyPrefix: accessNS, Match: isWrite, Nth: 1, Fail: true})
	_, err := f.m.RefreshPair(context.Background(), p.Refresh, "")
	w := httptest.NewRecorder()
	f.m.WriteError(w, httptest.NewRequest("POST", "/token", nil), err)
	if w.Code != 503 {
		t.Fatalf("failed refresh answered %d", w.Code)
	}
}

func TestWriteErrorCode(t *testing.T) {
	cases := []struct {
		code, desc string
		status     int
		body       string
	}{
		{CodeInvalidRequest, "refresh_token is required", 400, `{"error":"invalid_request","error_description":"refresh_token is required"}`},
		{CodeInvalidClient, "", 401, `{"error":"invalid_client"}`},
		{CodeTemporarilyUnavailable, "", 503, `{"error":"temporarily_unavailable"}`},
		{CodeInvalidGrant, `say "hi"`, 400, `{"error":"invalid_grant"}`},
		{CodeInvalidGrant, "line\nbreak", 400, `{"error":"invalid_grant"}`},
		{`bad"code`, "", 400, `{"error":"invalid_request"}`},
		{"", "", 400, `{"error":"invalid_request"}`},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		WriteErrorCode(w, c.code, c.desc)
		if w.Code != c.status || w.Body.String() != c.body+"\n" {
			t.Errorf("%q %q: %d %s", c.code, c.desc, w.Code, w.Body.String())
		}
		if !json.Valid(w.Body.Bytes()) || w.Header().Get("Pragma") != "no-cache" {
			t.Errorf("%q: invalid JSON or no Pragma", c.code)
		}
	}
}
