package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKEKs(t *testing.T) {
	secret := bytes.Repeat([]byte{0xfb}, KEKSize) // encodes differently in the four alphabets
	want, err := NewKEK(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		text := enc.EncodeToString(secret)
		keks, err := ParseKEKs(" " + text + "\n")
		if err != nil || len(keks) != 1 || keks[0].ID() != want.ID() {
			t.Fatalf("%q: %v, %v", text, keks, err)
		}
	}
	other := GenerateKEK()
	keks, err := ParseKEKs(other + ", " + base64.StdEncoding.EncodeToString(secret))
	if err != nil || len(keks) != 2 || keks[1].ID() != want.ID() || keks[0].ID() == want.ID() {
		t.Fatalf("two KEKs: %v, %v", keks, err)
	}
	for name, text := range map[string]string{
		"empty":        "",
		"blank":        " , \n",
		"short":        base64.RawURLEncoding.EncodeToString(secret[:31]),
		"long":         base64.RawURLEncoding.EncodeToString(append(secret, 1)),
		"not base64":   strings.Repeat("*", 43),
		"listed twice": other + "," + other,
	} {
		if _, err := ParseKEKs(text); !errors.Is(err, ErrNoKEK) {
			t.Errorf("%s: %v, want ErrNoKEK", name, err)
		} else if text != "" && strings.Contains(err.Error(), strings.TrimSpace(strings.Split(text, ",")[0])) && len(text) > 8 {
			t.Errorf("%s: the error repeats the text: %v", name, err)
		}
	}
	if _, err := NewKEK(secret[:16]); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("16-byte KEK: %v", err)
	}
}

func TestKEKsFromEnvAndFile(t *testing.T) {
	text := GenerateKEK()
	t.Setenv("AUTHKIT_TEST_KEK", text)
	keks, err := KEKsFromEnv("AUTHKIT_TEST_KEK")
	if err != nil || len(keks) != 1 {
		t.Fatalf("%v, %v", keks, err)
	}
	t.Setenv("AUTHKIT_TEST_KEK", "")
	if _, err := KEKsFromEnv("AUTHKIT_TEST_KEK"); !errors.Is(err, ErrNoKEK) || !strings.Contains(err.Error(), "AUTHKIT_TEST_KEK") {
		t.Fatalf("unset variable: %v", err)
	}
	t.Setenv("AUTHKIT_TEST_KEK", text[:20])
	if _, err := KEKsFromEnv("AUTHKIT_TEST_KEK"); !errors.Is(err, ErrNoKEK) || strings.Contains(err.Error(), text[:20]) {
		t.Fatalf("malformed variable: %v", err)
	}

	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, []byte(GenerateKEK()+"\n"+text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keks, err = KEKsFromFile(path)
	if err != nil || len(keks) != 2 {
		t.Fatalf("file: %v, %v", keks, err)
	}
	if _, err := KEKsFromFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestKEKNeverPrints: a KEK formats and logs as its ID, whatever the verb.
func TestKEKNeverPrints(t *testing.T) {
	secret := bytes.Repeat([]byte{0x5a}, KEKSize)
	k, err := NewKEK(secret)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("kek", "kek", k)
	outputs := []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprintf("%+v", *k), fmt.Sprintf("%#v", []*KEK{k}), logged.String()}
	forms := []string{string(secret), base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret), fmt.Sprintf("%x", secret), "90 90 90"}
	for _, out := range outputs {
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Fatalf("%q shows the secret", out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(k), k.ID()) || len(k.ID()) != 16 {
		t.Fatalf("String %q, ID %q", k, k.ID())
	}
}

// TestKEKBindsAdditionalData: a sealed key opens only with the additional
// data it was sealed with, and only under its own KEK.
func TestKEKBindsAdditionalData(t *testing.T) {
	keks := testKEKs(t)
	other := testKEKs(t)[0]
	sealed := keks[0].seal([]byte("material"), []byte("ad"))
	if pt, ok := keks[0].open(sealed, []byte("ad")); !ok || string(pt) != "material" {
		t.Fatalf("open: %q, %v", pt, ok)
	}
	for name, f := range map[string]func() bool{
		"other ad":  func() bool { _, ok := keks[0].open(sealed, []byte("ae")); return ok },
		"other KEK": func() bool { _, ok := other.open(sealed, []byte("ad")); return ok },
		"truncated": func() bool { _, ok := keks[0].open(sealed[:30], []byte("ad")); return ok },
	} {
		if f() {
			t.Errorf("%s opens", name)
		}
	}
}

// FuzzParseKEKs feeds arbitrary text to ParseKEKs, the reader of the
// AUTHKIT_KEK form: it must never panic, an error must wrap ErrNoKEK and
// hold none of the text, and what it accepts is one distinct KEK per field.
func FuzzParseKEKs(f *testing.F) {
	a := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, KEKSize))
	b := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x01}, KEKSize))
	f.Add(a)
	f.Add(a + "," + b)
	f.Add(" " + b + "\n\t" + a + " ")
	f.Add(a + "," + a)
	f.Add(a[:len(a)-2])
	f.Add(",,, \n")
	f.Fuzz(func(t *testing.T, text string) {
		keks, err := ParseKEKs(text)
		fields := strings.FieldsFunc(text, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		})
		if err != nil {
			if !errors.Is(err, ErrNoKEK) {
				t.Fatalf("error %v does not wrap ErrNoKEK", err)
			}
			// A field that could be key material: long, and not made of
			// the lower-case words and hyphens the messages are written in.
			for _, field := range fields {
				words := strings.Trim(field, "abcdefghijklmnopqrstuvwxyz-") == ""
				if len(field) >= 16 && !words && strings.Contains(err.Error(), field) {
					t.Fatalf("error %q holds part of the text", err)
				}
			}
			return
		}
		if len(keks) != len(fields) {
			t.Fatalf("%d KEKs from %d fields", len(keks), len(fields))
		}
		seen := map[string]bool{}
		for _, k := range keks {
			if seen[k.ID()] {
				t.Fatalf("KEK %s accepted twice", k.ID())
			}
			seen[k.ID()] = true
		}
	})
}
