package session

import "errors"

// Errors returned by the data API and the Manager. Test for them with
// [errors.Is]; most are wrapped with detail.
var (
	// ErrNotFound means the session holds no value under the key (Get, Pop),
	// or a handle passed to [Manager.RevokeID] names no session of that subject.
	ErrNotFound = errors.New("session: not found")

	// ErrType means a stored value does not decode into the type asked for,
	// or a value given to Set cannot be encoded. The message names the key,
	// the stored kind and the requested type.
	ErrType = errors.New("session: type mismatch")

	// ErrTooLarge means a change would make the encoded session exceed
	// [Config.MaxSize]. The change is not made.
	ErrTooLarge = errors.New("session: session too large")

	// ErrInvalidKey means a data key is empty or longer than [MaxKeyLen]
	// bytes, or a subject is empty or longer than [MaxSubjectLen] bytes.
	ErrInvalidKey = errors.New("session: invalid key")

	// ErrCommitted means a change needs a response header (a new session's
	// cookie, a renewed ID, remember-me) but the response has already
	// started, or the handler has returned. The change is not made. Changes
	// to an existing session's data after the response started do not get
	// this error: they are saved when the handler returns.
	ErrCommitted = errors.New("session: response already started")

	// ErrNoMiddleware means the context carries no session: the handler is
	// not behind [Manager.Middleware] (or, for Manager methods, behind
	// another Manager's).
	ErrNoMiddleware = errors.New("session: no session in context (is the handler behind Manager.Middleware?)")

	// ErrCrossOrigin means a cross-origin unsafe request (one that
	// [http.CrossOriginProtection] refuses) tried to create a session or log
	// in. This blocks login CSRF: a request that carries no session cookie is
	// let through to the handler, but cannot start a session.
	ErrCrossOrigin = errors.New("session: cross-origin request cannot create a session")

	// ErrEnded means the session was ended by a concurrent request — logged
	// out, renewed, revoked, or expired — while this one was using it. A
	// commit never recreates such a session. Set returns it on a request that
	// presented a session ID renewed moments ago by a parallel Login or
	// RenewID (creating a session there would overwrite the new cookie);
	// RenewID and SetTag return it when the session ended or is being
	// revoked; Login and RenewID return it when the new session was revoked
	// while being created.
	ErrEnded = errors.New("session: ended concurrently")
)
