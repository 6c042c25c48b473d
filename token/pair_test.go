package token

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestPairRedacted formats and logs a Pair, as a value and as a pointer,
// every way fmt and slog offer: neither token's secret part may show.
func TestPairRedacted(t *testing.T) {
	e := newMemEnv(t, Config{})
	p, err := e.m.IssuePair(context.Background(), "alice", FamilyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{string(p.Access)[len(DefaultAccessPrefix):], string(p.Refresh)[len(DefaultRefreshPrefix):]}
	var outs []string
	for _, v := range []any{p, &p} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v", "%T"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		outs = append(outs, fmt.Sprint(v), fmt.Sprintln(v), fmt.Errorf("refresh: %v", v).Error())
		outs = append(outs, fmt.Sprintf("%v", []any{v}), fmt.Sprintf("%+v", struct{ P any }{v}))
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var b bytes.Buffer
			slog.New(h(&b)).Info("issued", "pair", v, slog.Any("again", v))
			outs = append(outs, b.String())
		}
	}
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) || strings.Contains(out, fmt.Sprintf("%x", s)) {
				t.Fatalf("a token shows in %q", out)
			}
		}
	}
	if s := p.String(); !strings.Contains(s, "ak_at_REDACTED") || !strings.Contains(s, p.Family.ID) || !strings.Contains(s, `"alice"`) {
		t.Fatalf("String() = %q", s)
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "pair", p)
	if !strings.Contains(b.String(), `"refresh":"ak_rt_REDACTED"`) || !strings.Contains(b.String(), `"family_id":"`+p.Family.ID) {
		t.Fatalf("slog: %s", b.String())
	}
	var nilPair *Pair
	if s := fmt.Sprint(nilPair); s != "<nil>" {
		t.Fatalf("nil *Pair prints %q", s)
	}
}
