package main

import (
	"sync"

	"github.com/authkit/authkit"
)

// eventLog keeps the last security events of this process, for the page's
// "Events" list. Events never carry a secret (authkit.Event's contract).
type eventLog struct {
	mu   sync.Mutex
	buf  []authkit.Event
	next int
	full bool
}

func newEventLog(n int) *eventLog { return &eventLog{buf: make([]authkit.Event, n)} }

func (l *eventLog) add(e authkit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf[l.next] = e
	l.next = (l.next + 1) % len(l.buf)
	if l.next == 0 {
		l.full = true
	}
}

// recent returns up to n events about subject, newest first.
func (l *eventLog) recent(subject string, n int) []authkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []authkit.Event
	size := l.next
	if l.full {
		size = len(l.buf)
	}
	for i := 1; i <= size && len(out) < n; i++ {
		e := l.buf[(l.next-i+len(l.buf))%len(l.buf)]
		if e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}
