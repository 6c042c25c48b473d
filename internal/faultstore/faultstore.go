// Package faultstore wraps a store.Store for tests that must force an
// interleaving or a failure rather than hope the scheduler produces it.
//
// A [Store] passes every call to the store it wraps, numbering the calls that
// match each [Rule]. A rule can run a hook just before its call reaches the
// wrapped store (to run another operation "in between"), run a hook just
// after the call took effect, fail the call without applying it, or apply it
// and then report an error — the lost reply that makes a write's outcome
// unknown to its caller, which the Store contract allows.
//
//	fs := faultstore.New(store.NewMemory(store.MemoryConfig{}))
//	fs.On(faultstore.Rule{Op: faultstore.OpCAS, KeyPrefix: "sidx:", Nth: 2,
//		Before: func(ctx context.Context, c faultstore.Call) { _ = m.RevokeSubject(ctx, "alice") }})
//
// Hooks run on the calling goroutine, without any lock held, so a hook may
// call into the code under test (which calls the Store again: those nested
// calls are numbered too, and may match other rules).
package faultstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/authkit/authkit/store"
)

// Op names a Store method.
type Op string

// The Store methods a Rule can match.
const (
	OpGet    Op = "Get"
	OpSet    Op = "Set"
	OpDelete Op = "Delete"
	OpCAS    Op = "CompareAndSwap"
)

// ErrInjected is the error of a call failed by a rule without an Err of its
// own.
var ErrInjected = errors.New("faultstore: injected failure")

// Call describes one call to the Store.
type Call struct {
	Op        Op
	Key       string
	Old, New  []byte    // CompareAndSwap's old and new; Set's value in New
	ExpiresAt time.Time // Set and CompareAndSwap
	Seq       int       // the call's number among all calls, from 1
}

// Rule selects calls and says what to do with them. The zero Rule matches
// every call and does nothing.
type Rule struct {
	Op        Op                          // the method to match; empty matches every method
	KeyPrefix string                      // the key prefix to match; empty matches every key
	Match     func(Call) bool             // further selection; nil matches
	Nth       int                         // act only on the Nth matching call (from 1); 0 acts on every one
	Before    func(context.Context, Call) // runs before the call reaches the store
	After     func(context.Context, Call) // runs after the call returned from the store
	// Fail makes the call fail: without reaching the store, or — with
	// Applied set — after the store applied it (a lost reply).
	Fail    bool
	Applied bool
	Err     error // the error to return; nil means ErrInjected
}

// Store is a store.Store wrapper that applies rules to its calls and logs
// them. It is safe for concurrent use.
type Store struct {
	inner store.Store

	mu    sync.Mutex
	rules []*ruleState
	seq   int
	calls []Call
}

type ruleState struct {
	Rule
	seen int
}

var _ store.Store = (*Store)(nil)

// New returns a Store wrapping inner, with no rules.
func New(inner store.Store) *Store { return &Store{inner: inner} }

// Inner returns the wrapped store.
func (s *Store) Inner() store.Store { return s.inner }

// On adds a rule. Rules are checked in the order they were added; every rule
// that selects a call acts on it (hooks in order; the first failing rule
// decides the error).
func (s *Store) On(r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, &ruleState{Rule: r})
}

// Reset removes every rule; the call log is kept.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// Calls returns the calls made so far, in the order they started.
func (s *Store) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of op on keys with prefix were made; an
// empty op counts every method.
func (s *Store) Count(op Op, prefix string) int {
	n := 0
	for _, c := range s.Calls() {
		if (op == "" || c.Op == op) && strings.HasPrefix(c.Key, prefix) {
			n++
		}
	}
	return n
}

// selected numbers c against the rules and returns those acting on it.
func (s *Store) selected(c *Call) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	c.Seq = s.seq
	s.calls = append(s.calls, *c)
	var out []Rule
	for _, r := range s.rules {
		if r.Op != "" && r.Op != c.Op || !strings.HasPrefix(c.Key, r.KeyPrefix) || r.Match != nil && !r.Match(*c) {
			continue
		}
		r.seen++
		if r.Nth == 0 || r.Nth == r.seen {
			out = append(out, r.Rule)
		}
	}
	return out
}

// do runs call through the rules selected for c.
func (s *Store) do(ctx context.Context, c Call, call func() error) error {
	rules := s.selected(&c)
	var failBefore, failAfter error
	for _, r := range rules {
		if r.Before != nil {
			r.Before(ctx, c)
		}
		if r.Fail {
			err := r.Err
			if err == nil {
				err = ErrInjected
			}
			if r.Applied {
				failAfter = cmpErr(failAfter, err)
			} else {
				failBefore = cmpErr(failBefore, err)
			}
		}
	}
	if failBefore != nil {
		return failBefore
	}
	err := call()
	for _, r := range rules {
		if r.After != nil {
			r.After(ctx, c)
		}
	}
	if err == nil && failAfter != nil {
		return failAfter
	}
	return err
}

func cmpErr(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (v []byte, err error) {
	err = s.do(ctx, Call{Op: OpGet, Key: key}, func() error {
		v, err = s.inner.Get(ctx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	return s.do(ctx, Call{Op: OpSet, Key: key, New: value, ExpiresAt: expiresAt}, func() error {
		return s.inner.Set(ctx, key, value, expiresAt)
	})
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.do(ctx, Call{Op: OpDelete, Key: key}, func() error {
		return s.inner.Delete(ctx, key)
	})
}

// CompareAndSwap implements store.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, new []byte, expiresAt time.Time) (ok bool, err error) {
	err = s.do(ctx, Call{Op: OpCAS, Key: key, Old: old, New: new, ExpiresAt: expiresAt}, func() error {
		ok, err = s.inner.CompareAndSwap(ctx, key, old, new, expiresAt)
		return err
	})
	if err != nil {
		return false, err
	}
	return ok, nil
}
