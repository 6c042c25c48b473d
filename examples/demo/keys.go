package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/keyring"
	"github.com/authkit/authkit/login"
)

// The demo's keys come from a keyring in the store: every instance on the
// same store (and the same key-encryption key) seals, signs and verifies with
// the same keys, and they rotate by themselves.
//
//   - keyring.CookieSeal: the sealed login cookie (panel 1) and the SSO
//     panel's flow cookies and grant records (up to 30 days).
//   - keyring.CookieSign: the signed known-device cookie of password sign-in
//     (180 days).
//   - JWTPurpose(EdDSA): the 5-minute JWTs of panel 4, published at
//     /.well-known/jwks.json.

// kekEnv names the environment variable holding the key-encryption key.
const kekEnv = "AUTHKIT_KEK"

// loadKEKs returns the key-encryption keys from file, or from the
// environment variable kekEnv. Without either it returns nil for the
// in-memory store (setupKeys then makes one for this process) and an error
// for a shared store: a KEK made up by one instance could not read the keys
// of another, and the keyring never guesses one.
func loadKEKs(file, storeFlag string) ([]*keyring.KEK, error) {
	switch {
	case file != "":
		return keyring.KEKsFromFile(file)
	case os.Getenv(kekEnv) != "":
		return keyring.KEKsFromEnv(kekEnv)
	case storeFlag == "" || storeFlag == "memory":
		return nil, nil
	}
	return nil, fmt.Errorf("a shared store needs a key-encryption key, the same for every instance: "+
		"export %s=$(openssl rand -base64 32) before starting them, or pass -kek-file", kekEnv)
}

// setupKeys opens the keyring and takes the demo's Codecs and JWT key set
// from it. Without cfg.KEKs it makes a key-encryption key that lives as long
// as this process — right for the in-memory store, which lives no longer;
// main requires one for a shared store.
func (s *server) setupKeys(ctx context.Context, events authkit.EventFunc) error {
	keks := s.cfg.KEKs
	if keks == nil {
		var err error
		if keks, err = keyring.ParseKEKs(keyring.GenerateKEK()); err != nil {
			return err
		}
		s.kekEphemeral = true
	}
	kr, err := keyring.New(s.st, keyring.Config{KEKs: keks, Events: events, Logger: s.log, Now: s.now})
	if err != nil {
		return err
	}
	s.keyring = kr
	if s.codec, err = kr.Codec(ctx, keyring.CookieSeal, keyring.Schedule{}); err != nil {
		return err
	}
	if s.deviceCodec, err = kr.Codec(ctx, keyring.CookieSign, keyring.Schedule{MaxLifetime: login.DefaultDeviceLifetime}); err != nil {
		return err
	}
	s.keys, err = kr.KeySet(ctx, jwt.EdDSA, keyring.Schedule{MaxLifetime: jwtTTL})
	return err
}

// keysView is the keyring panel: each purpose with its keys, as this
// instance last read them. Never key material: KeyInfo holds none.
type keysView struct {
	KEK        string // the key-encryption key's public ID
	Ephemeral  bool   // the KEK was made at start-up
	Purposes   []purposeView
	JWKSMaxAge time.Duration
	Rotated    string // the purpose just rotated from the page, if any
}

type purposeView struct {
	Name     string
	Use      string
	StoreKey string
	Keys     []keyring.KeyInfo
	Dump     string // the record as the store holds it
}

var purposeUses = map[string]string{
	keyring.CookieSeal:            "seals the login cookie, the SSO flow cookies and the SSO grant keys",
	keyring.CookieSign:            "signs the known-device cookie of password sign-in",
	keyring.JWTPurpose(jwt.EdDSA): "signs the JWTs; the public keys are at /.well-known/jwks.json",
}

func (s *server) keysView(r *http.Request) *keysView {
	v := &keysView{Ephemeral: s.kekEphemeral, JWKSMaxAge: s.keyring.JWKSMaxAge(), Rotated: r.URL.Query().Get("rotated")}
	byPurpose := map[string][]keyring.KeyInfo{}
	for _, k := range s.keyring.Keys() {
		byPurpose[k.Purpose] = append(byPurpose[k.Purpose], k)
		if v.KEK == "" {
			v.KEK = k.KEK
		}
	}
	for _, p := range []string{keyring.CookieSeal, keyring.CookieSign, keyring.JWTPurpose(jwt.EdDSA)} {
		pv := purposeView{Name: p, Use: purposeUses[p], StoreKey: "kring:" + p, Keys: byPurpose[p]}
		if raw, err := s.st.Get(r.Context(), pv.StoreKey); err == nil {
			pv.Dump = hexDump(raw, 256)
		}
		v.Purposes = append(v.Purposes, pv)
	}
	return v
}

// webRotateKeys starts a rotation of one purpose, as an operator would with
// Keyring.Rotate: a new key is published now and signs after the
// prepublish time. (A real deployment keeps this off its public pages.)
func (s *server) webRotateKeys(w http.ResponseWriter, r *http.Request) {
	p := r.PostFormValue("purpose")
	if _, ok := purposeUses[p]; !ok {
		http.Redirect(w, r, "/?e=bad-request#keys", http.StatusSeeOther)
		return
	}
	if _, err := s.keyring.Rotate(r.Context(), p); err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("rotating keys", "purpose", p, "err", err)
		}
		http.Redirect(w, r, "/?e=unavailable#keys", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/?rotated="+p+"#keys", http.StatusSeeOther)
}

// keyringFields are the server fields this file adds.
type keyringFields struct {
	keyring      *keyring.Keyring
	kekEphemeral bool
	deviceCodec  *cookie.Codec // keyring.CookieSign
}
