package cookie

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

func benchCodec(b *testing.B) *Codec {
	b.Helper()
	c, err := NewCodec(Key{ID: 1, Secret: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var payload64 = bytes.Repeat([]byte("p"), 64)

func BenchmarkSealOpen64(b *testing.B) {
	c := benchCodec(b)
	b.ReportAllocs()
	for b.Loop() {
		v, err := c.Seal("__Host-s", payload64, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Open("__Host-s", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignVerify64(b *testing.B) {
	c := benchCodec(b)
	b.ReportAllocs()
	for b.Loop() {
		v, err := c.Sign("__Host-s", payload64, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Verify("__Host-s", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal64(b *testing.B) {
	c := benchCodec(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Seal("__Host-s", payload64, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen64(b *testing.B) {
	c := benchCodec(b)
	v, err := c.Seal("__Host-s", payload64, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Open("__Host-s", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign64(b *testing.B) {
	c := benchCodec(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Sign("__Host-s", payload64, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify64(b *testing.B) {
	c := benchCodec(b)
	v, err := c.Sign("__Host-s", payload64, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify("__Host-s", v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenGarbage measures the rejection of a forged value of the
// maximum length: the cost an attacker can impose per request.
func BenchmarkOpenGarbage(b *testing.B) {
	c := benchCodec(b)
	v, err := c.Seal("s", make([]byte, 3000), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	forged := []byte(v)
	forged[len(forged)/2] ^= 1
	fv := string(forged)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Open("s", fv); err == nil {
			b.Fatal("forgery accepted")
		}
	}
}

// BenchmarkBareXChaCha64 is the floor Seal+Open is compared against: a bare
// XChaCha20-Poly1305 seal and open of 64 bytes with base64url both ways.
func BenchmarkBareXChaCha64(b *testing.B) {
	aead, err := chacha20poly1305.NewX(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rand.Read(nonce); err != nil {
			b.Fatal(err)
		}
		s := base64.RawURLEncoding.EncodeToString(aead.Seal(nil, nonce, payload64, nil))
		ct, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := aead.Open(nil, nonce, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplateBuild(b *testing.B) {
	t := New("__Host-sid")
	t.MaxAge = 24 * time.Hour
	v := string(bytes.Repeat([]byte("v"), 43))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Build(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplateRead(b *testing.B) {
	t := New("__Host-sid")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "theme=dark; lang=en; __Host-sid="+string(bytes.Repeat([]byte("v"), 43))+"; _ga=GA1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Read(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealOpen64FixedClock is BenchmarkSealOpen64 with an injected
// clock, to show what the two clock reads of a round trip cost.
func BenchmarkSealOpen64FixedClock(b *testing.B) {
	c := benchCodec(b)
	now := time.Now()
	c.Now = func() time.Time { return now }
	b.ReportAllocs()
	for b.Loop() {
		v, err := c.Seal("__Host-s", payload64, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Open("__Host-s", v); err != nil {
			b.Fatal(err)
		}
	}
}
