package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/throttle"
)

// This file wires the login package into the demo: the three ways of
// proving who you are — a password, a login link sent by email, a one-time
// code — on the demo's user registry, one throttle and the outbox that
// stands in for email. Every password check of the demo (the panels' forms
// and logins, the password change, the sign-in section) goes through the
// same login.Password.

const (
	// mailDomain gives every account an address: its name at this domain
	// (alice@example.com). The demo sends no mail; see outbox.
	mailDomain = "example.com"

	linkPath       = "/signin/link" // the page a login link opens
	codeCookieName = "__Host-demo-code"
	outboxSize     = 20
)

// accounts is the demo's user registry as the login package sees it: Users
// for password sign-in, Directory for links and codes.
type accounts struct {
	users *users
	now   func() time.Time
}

// LookupPassword implements login.Users.
func (a accounts) LookupPassword(ctx context.Context, name string) (string, string, error) {
	u, err := a.users.get(ctx, name)
	if errors.Is(err, errNoUser) {
		return "", "", login.ErrUnknownUser
	}
	if err != nil {
		return "", "", err
	}
	return u.Name, u.Hash, nil
}

// UpdatePasswordHash implements login.Users: it stores the stronger hash a
// sign-in made, and notes the scheme it replaced for the Account box. If
// the stored hash already has the new one's scheme and parameters, a
// concurrent sign-in or a password change got there first, and it is left
// alone — a password changed meanwhile is never overwritten with a hash of
// the old one.
func (a accounts) UpdatePasswordHash(ctx context.Context, subject, encoded string) error {
	_, err := a.users.update(ctx, subject, func(rec *user) error {
		if describeHash(rec.Hash) == describeHash(encoded) {
			return nil
		}
		rec.UpgradedFrom, rec.UpgradedAt = describeHash(rec.Hash), a.now()
		rec.Hash = encoded
		return nil
	})
	return err
}

// LookupAddress implements login.Directory: name@example.com belongs to the
// account name.
func (a accounts) LookupAddress(ctx context.Context, address string) (string, error) {
	local, ok := strings.CutSuffix(address, "@"+mailDomain)
	if !ok {
		return "", login.ErrUnknownUser
	}
	name, err := normalizeUsername(local)
	if err != nil {
		return "", login.ErrUnknownUser
	}
	u, err := a.users.get(ctx, name)
	if errors.Is(err, errNoUser) {
		return "", login.ErrUnknownUser
	}
	if err != nil {
		return "", err
	}
	return u.Name, nil
}

// mailer is the login package's Mailer: who owns an address, and delivery
// (to the outbox).
type mailer struct {
	accounts
	*outbox
}

// setupLogin builds the sign-in flows on the server's store. One throttle
// counts password attempts and link and code requests alike.
func (s *server) setupLogin(events authkit.EventFunc) error {
	thCfg := s.cfg.Throttle
	if thCfg.Now == nil {
		thCfg.Now = s.now
	}
	if thCfg.Logger == nil {
		thCfg.Logger = s.log
	}
	th := throttle.New(s.st, thCfg)
	acc := accounts{users: s.users, now: s.now}
	s.outbox = newOutbox(outboxSize, s.now)

	current := s.cfg.HashScheme
	if current == nil {
		current = hash.Argon2id{}
	}
	s.password = login.NewPassword(s.st, acc, login.PasswordConfig{
		Hasher:         s.hasher,
		Throttle:       th,
		Normalize:      normalizeUsername,
		MaxPasswordLen: maxPasswordLen,
		// The only legacy hash is the seeded "demo" user's bcrypt one, and
		// that account's existence is no secret: naming the current scheme
		// here keeps every sign-in at one verification. Left nil, the
		// Password would learn the bcrypt hash at the demo user's first
		// sign-in and from then on pay one bcrypt and one argon2id
		// verification on every sign-in (see LegacyScheme), the price of
		// hiding which accounts still have a legacy hash.
		LegacyScheme: current,
		// The device cookie is signed with the keyring's CookieSign keys
		// (keys.go); the codec binds every value to its cookie's name.
		Devices:        s.deviceCodec,
		TrustedProxies: s.cfg.TrustedProxies,
		Events:         events,
		Logger:         s.log,
		Now:            s.now,
	})
	s.links = login.NewLinks(s.st, s.tokens, mailer{acc, s.outbox}, login.LinkConfig{
		URL:            linkPath,
		SameBrowser:    true,
		Throttle:       th,
		TrustedProxies: s.cfg.TrustedProxies,
		Page:           s.linkPage,
		Events:         events,
		Logger:         s.log,
		Now:            s.now,
	})
	// A random code key at every start, like the demo's other keys: codes
	// verify only on the instance that sent them.
	s.codes = login.NewCodes(s.st, mailer{acc, s.outbox}, login.CodeConfig{
		Throttle:       th,
		TrustedProxies: s.cfg.TrustedProxies,
		Events:         events,
		Logger:         s.log,
		Now:            s.now,
	})
	s.codeCookie = cookie.New(codeCookieName)
	s.codeCookie.MaxAge = login.DefaultCodeLifetime
	return s.codeCookie.Validate()
}
