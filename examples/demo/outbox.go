package main

import (
	"context"
	"sync"
	"time"

	"github.com/authkit/authkit/login"
)

// outbox is the demo's stand-in for email and text messages. The login
// package hands every login link and one-time code to a login.Sender; a real
// application's Sender queues an email or an SMS to the address's owner. The
// demo sends nothing: its Sender keeps the last few messages in this
// process's memory, and the page shows them in the Outbox panel, so that you
// can click the link or type the code.
//
// That makes the outbox a mailbox every visitor of the page can read: on
// this demo, a link or a code signs in as any account whose address you type.
// Nothing in the outbox is logged, stored or sent anywhere else.
type outbox struct {
	mu   sync.Mutex
	msgs []login.Message // newest first
	max  int
	now  func() time.Time
}

func newOutbox(max int, now func() time.Time) *outbox {
	return &outbox{max: max, now: now}
}

// Send implements login.Sender: it keeps m for the page and returns at once.
func (o *outbox) Send(_ context.Context, m login.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append([]login.Message{m}, o.msgs...)
	if len(o.msgs) > o.max {
		o.msgs = o.msgs[:o.max]
	}
	return nil
}

// list returns the messages whose link or code has not expired, newest
// first.
func (o *outbox) list() []login.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	var out []login.Message
	for _, m := range o.msgs {
		if now.Before(m.Expires) {
			out = append(out, m)
		}
	}
	return out
}
