package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/authkit/authkit/store"
)

// recorder is a testingT that records failures instead of reporting them, so
// the suite's own tests can run it against broken stores. Subtests run in
// goroutines, as with package testing; a subtest that calls Parallel lets
// its parent continue, and a test finishes only after its parallel
// subtests. FailNow ends the subtest's goroutine with runtime.Goexit, and a
// panic in a subtest is recorded as its failure.
type recorder struct {
	name   string
	parent *recorder
	log    *failureLog

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	failed   bool
	cleanups []func()

	children     sync.WaitGroup
	parallelOnce sync.Once
	parallel     chan struct{}
}

// failureLog collects the messages of every failed test, by full name.
type failureLog struct {
	mu       sync.Mutex
	messages map[string][]string // leaf failures: test name → messages
	failed   map[string]bool     // every failed test, parents included
	report   *report             // the suite's report, when it ran
}

func newRecorder() *recorder {
	r := &recorder{
		log:      &failureLog{messages: map[string][]string{}, failed: map[string]bool{}},
		parallel: make(chan struct{}),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// runSuite runs the suite against the stores newStore makes and returns the
// failures: the report's, by subtest, and the recorder's own (panics).
func runSuite(newStore func(testingT) store.Store) *failureLog {
	r := newRecorder()
	rep := newReport()
	r.Run("", func(t testingT) { run(t, rep, newStore) })
	r.log.report = rep
	return r.log
}

func (r *recorder) Helper() {}

func (r *recorder) Logf(format string, args ...any) {}

// Errorf is not part of testingT: the recorder's tests use it, and a panic
// is recorded through it.
func (r *recorder) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.log.mu.Lock()
	r.log.messages[r.name] = append(r.log.messages[r.name], msg)
	r.log.mu.Unlock()
	r.markFailed()
}

func (r *recorder) Fail() { r.markFailed() }

func (r *recorder) FailNow() {
	r.markFailed()
	runtime.Goexit()
}

func (r *recorder) markFailed() {
	for p := r; p != nil; p = p.parent {
		p.mu.Lock()
		p.failed = true
		p.mu.Unlock()
		r.log.mu.Lock()
		r.log.failed[strings.TrimPrefix(p.name, "/")] = true
		r.log.mu.Unlock()
	}
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Parallel() {
	r.parallelOnce.Do(func() { close(r.parallel) })
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

func (r *recorder) Context() context.Context { return r.ctx }

func (r *recorder) Run(name string, f func(t testingT)) bool {
	c := &recorder{
		name:     strings.TrimPrefix(r.name+"/"+name, "/"),
		parent:   r,
		log:      r.log,
		parallel: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	done := make(chan struct{})
	r.children.Add(1)
	go func() {
		defer r.children.Done()
		defer close(done)
		defer func() {
			c.children.Wait()
			c.cancel()
			c.mu.Lock()
			cleanups := c.cleanups
			c.mu.Unlock()
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		}()
		defer func() {
			if p := recover(); p != nil {
				c.Errorf("panic: %v", p)
			}
		}()
		f(c)
	}()
	select {
	case <-done:
		return !c.Failed()
	case <-c.parallel:
		return true
	}
}

// Failed reports whether the test with the full name (for example
// "Race/CompareAndSwapCounter") failed.
func (l *failureLog) Failed(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed[name]
}

// Leaves returns the names of the tests that reported failures, sorted.
func (l *failureLog) Leaves() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for n := range l.messages {
		names = append(names, n)
	}
	if l.report != nil {
		for _, n := range l.report.tests() {
			if !contains(names, n) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// Summary lists the report's lines, then each test the recorder caught
// failing on its own (a panic) with its first message.
func (l *failureLog) Summary() string {
	var b strings.Builder
	if l.report != nil {
		for _, line := range l.report.lines() {
			fmt.Fprintf(&b, "\n  %s", line)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for n := range l.messages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		msgs := l.messages[n]
		fmt.Fprintf(&b, "\n  %s: %s", n, msgs[0])
		if len(msgs) > 1 {
			fmt.Fprintf(&b, " (+%d more)", len(msgs)-1)
		}
	}
	return b.String()
}
