package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
)

// Kinds of [Message].
const (
	KindLink = "link" // a login link: Message.Link is set
	KindCode = "code" // a one-time code: Message.Code is set
)

// Message is a login link or code to deliver. Its Link and Code are
// secrets: String, GoString and LogValue show neither, so printing or
// logging a Message by mistake leaks nothing.
type Message struct {
	Kind    string    // KindLink or KindCode
	To      string    // the address (email or phone number) to deliver to
	Subject string    // the account it signs in to
	Link    string    // KindLink: the URL to open
	Code    string    // KindCode: the code to type
	Expires time.Time // when the link or code stops working
}

// String describes m without its secret.
func (m Message) String() string {
	return fmt.Sprintf("login.Message{Kind: %s, Subject: %q, Expires: %s, secret redacted}", m.Kind, m.Subject, m.Expires.Format(time.RFC3339))
}

// GoString is String, so %#v does not print the secret either.
func (m Message) GoString() string { return m.String() }

// LogValue implements slog.LogValuer without the secret or the address.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", m.Kind), slog.String("subject", m.Subject), slog.Time("expires", m.Expires))
}

// Directory finds the account an address belongs to.
type Directory interface {
	// LookupAddress returns the subject of the account with this
	// normalised address, or an error wrapping [ErrUnknownUser]. Any
	// other error is an outage.
	LookupAddress(ctx context.Context, address string) (subject string, err error)
}

// Sender delivers login links and codes: by email, text message or, in a
// demo, to a page. Send should queue the message and return quickly; it is
// called on the request path. The library never logs a link or a code.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Mailer is the application's side of [Links] and [Codes]: who owns an
// address, and delivery.
type Mailer interface {
	Directory
	Sender
}

// NormalizeAddress is the default address normalisation of Links and
// Codes: a single email address (RFC 5322 addr-spec, no display name),
// trimmed and lower-cased, at most 254 bytes.
func NormalizeAddress(address string) (string, error) {
	address = strings.TrimSpace(address)
	if address == "" || len(address) > 254 {
		return "", errors.New("login: not an email address")
	}
	a, err := mail.ParseAddress(address)
	if err != nil || a.Name != "" || a.Address != address {
		return "", errors.New("login: not an email address")
	}
	return strings.ToLower(address), nil
}
