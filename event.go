package authkit

import (
	"context"
	"log/slog"
	"time"
)

// EventType names a security event.
type EventType string

// The security events authkit's managers report.
const (
	EventLogin        EventType = "login"         // a subject proved who they are and got a credential
	EventLoginFailed  EventType = "login_failed"  // a login attempt was refused
	EventLogout       EventType = "logout"        // a credential was ended by its holder
	EventRevoke       EventType = "revoke"        // credentials were revoked (one, a family, or all of a subject's)
	EventRenew        EventType = "renew"         // a session ID was renewed (privilege change)
	EventRefresh      EventType = "refresh"       // a refresh token was rotated
	EventRefreshReuse EventType = "refresh_reuse" // a rotated refresh token was presented again: its family was revoked
	EventCSRFRejected EventType = "csrf_rejected" // a cross-origin unsafe request carrying a session cookie was refused
	EventRejected     EventType = "rejected"      // a credential was presented and refused (forged, expired, revoked)
)

// The values of [Identity.Method] and [Event.Method] for authkit's own
// mechanisms.
const (
	MethodSession = "session" // a server-side session (package session)
	MethodToken   = "token"   // an opaque access token (package token)
	MethodJWT     = "jwt"     // a JSON Web Token (package jwt)
)

// The values of [Event.Reason] reported by authkit's packages. A package may
// report a more specific reason of its own; each documents which it uses.
const (
	// EventRevoke: what was revoked.
	ReasonSubject = "subject"  // every credential of the subject (RevokeSubject)
	ReasonOthers  = "others"   // every session of the subject but the current one
	ReasonID      = "id"       // one listed credential, by its ID (RevokeID)
	ReasonToken   = "token"    // the credential presented (RevokeToken)
	ReasonFamily  = "family"   // a refresh-token family and what it issued
	ReasonJTI     = "jti"      // one JWT, by its jti
	ReasonOneTime = "one_time" // a subject's one-time tokens of one purpose
	ReasonCap     = "cap"      // the oldest credential, over the per-subject cap

	// EventLogin: what was issued.
	ReasonAccessToken   = "access_token"   // an opaque access token
	ReasonRefreshFamily = "refresh_family" // a refresh-token family

	// EventRefresh and EventRefreshReuse.
	ReasonGrace = "grace" // a retry within the grace window got the same successor
	ReasonReuse = "reuse" // a rotated refresh token was presented again

	// EventRejected: why a credential was refused.
	ReasonMalformed   = "malformed"    // not of the credential's form
	ReasonUnknown     = "unknown"      // well-formed, but no such credential
	ReasonExpired     = "expired"      // past its deadline
	ReasonRevoked     = "revoked"      // revoked
	ReasonWrongKind   = "wrong_kind"   // a credential of another kind or purpose
	ReasonSignature   = "signature"    // a signature or MAC that does not verify
	ReasonCrossOrigin = "cross_origin" // a cross-origin unsafe request (EventCSRFRejected too)
)

// Event is a security event, for audit logs and alerting. It never carries a
// secret: no session ID, token, password or key, only who and what.
type Event struct {
	Type    EventType
	Time    time.Time
	Method  string // a Method… constant, or "" when not tied to one
	Subject string // the user or client concerned, when known
	Reason  string // a short machine-readable detail: a Reason… constant or a package's own
	// ClientIP is the client address as the component determined it
	// (honouring its trusted-proxy setting), when known.
	ClientIP string
}

// EventFunc receives security events. Managers call it synchronously on the
// request path, so it should be quick and must not block; it must be safe for
// concurrent use.
type EventFunc func(ctx context.Context, e Event)

// LogValue implements slog.LogValuer so an Event logs as a group.
func (e Event) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("type", string(e.Type)), slog.Time("time", e.Time))
	if e.Method != "" {
		attrs = append(attrs, slog.String("method", e.Method))
	}
	if e.Subject != "" {
		attrs = append(attrs, slog.String("subject", e.Subject))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.ClientIP != "" {
		attrs = append(attrs, slog.String("client_ip", e.ClientIP))
	}
	return slog.GroupValue(attrs...)
}

// LogEvents returns an EventFunc that logs each event to logger at level Info
// (Warn for refused logins, refresh reuse, CSRF rejections and refused
// credentials). A nil logger means slog.Default().
func LogEvents(logger *slog.Logger) EventFunc {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, e Event) {
		level := slog.LevelInfo
		switch e.Type {
		case EventLoginFailed, EventRefreshReuse, EventCSRFRejected, EventRejected:
			level = slog.LevelWarn
		}
		logger.LogAttrs(ctx, level, "authkit: security event", slog.Any("event", e))
	}
}
