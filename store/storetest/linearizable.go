package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/authkit/authkit/store"
)

// LinearizabilityConfig configures [CheckLinearizable]. The zero value is
// valid: 8 clients, 60 operations each, on 3 keys, one round.
type LinearizabilityConfig struct {
	// Clients is how many goroutines call the stores at once. Client i
	// calls stores[i % len(stores)]. Zero means 8.
	Clients int
	// Operations is how many calls each client makes per round. Zero
	// means 60.
	Operations int
	// Keys is how many keys the clients share; fewer keys, more
	// contention. Zero means 3.
	Keys int
	// Rounds is how many histories are recorded and checked, each on keys
	// of its own. Zero means 1.
	Rounds int
	// Seed seeds the clients' random choices; the seed of a failing round
	// is reported, and setting it replays the same calls (though not the
	// same interleaving). Zero means a random seed.
	Seed uint64
	// Fault, when set, runs in a goroutine of its own while the clients of
	// a round make their calls, until ctx ends: for example killing the
	// stores' network connections every few milliseconds. Without a fault,
	// every error must match the context of its call (context.Canceled or
	// context.DeadlineExceeded); with one, errors are expected and only
	// the history is checked.
	Fault func(ctx context.Context)
	// CheckTimeout bounds the linearizability check of one round. A check
	// that does not finish in time fails the round: a history that
	// explodes the search is a history to investigate. Zero means 10 s.
	CheckTimeout time.Duration
}

// LinearizabilityResult counts what [CheckLinearizable] found.
type LinearizabilityResult struct {
	Rounds       int // histories checked
	Linearizable int // rounds whose history is linearizable
	Operations   int // calls made, in all rounds
	Failed       int // calls that returned an error (writes among them: outcome unknown)
	// LongestCheck is the longest a round's check took.
	LongestCheck time.Duration
}

func (c *LinearizabilityConfig) defaults() {
	if c.Clients <= 0 {
		c.Clients = 8
	}
	if c.Operations <= 0 {
		c.Operations = 60
	}
	if c.Keys <= 0 {
		c.Keys = 3
	}
	if c.Rounds <= 0 {
		c.Rounds = 1
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.CheckTimeout <= 0 {
		c.CheckTimeout = 10 * time.Second
	}
}

// CheckLinearizable records histories of concurrent random Get, Set, Delete
// and CompareAndSwap calls on a few keys, some with contexts that are
// cancelled or run out during the call, and checks each history against the
// contract's register model with porcupine (github.com/anishathalye/porcupine).
// A write that fails counts as possibly applied, then or at any later time:
// the contract leaves its outcome unknown, but never allows it to undo a
// write that completed after it failed. [Run] includes one round on a
// single store; call CheckLinearizable directly to run more rounds, to
// share the keys between several stores (as several servers share a
// database), or to inject faults with [LinearizabilityConfig.Fault].
//
// The stores must hold nothing under the keys a round uses ("lin-…"). Each
// failed round is reported with its seed and history size, and a
// visualization of the history is written to a file in the temporary
// directory whose path is reported with it.
func CheckLinearizable(t *testing.T, cfg LinearizabilityConfig, stores ...store.Store) LinearizabilityResult {
	t.Helper()
	if len(stores) == 0 {
		t.Fatal("storetest: CheckLinearizable needs a store")
	}
	r := newReport()
	res := checkLinearizable(t.Context(), cfg, stores, func(method, rule, msg string) {
		r.add(t.Name(), method, rule, msg)
	})
	for _, line := range r.lines() {
		t.Errorf("storetest: %s", line)
	}
	t.Logf("storetest: %d of %d rounds linearizable (%d calls, %d failed; longest check %v)",
		res.Linearizable, res.Rounds, res.Operations, res.Failed, res.LongestCheck.Round(time.Millisecond))
	return res
}

// testLinearizable is Run's case: one round on the case's store.
func testLinearizable(c *checker) {
	checkLinearizable(c.ctx, LinearizabilityConfig{}, []store.Store{c.s}, func(method, rule, msg string) {
		c.errorf(method, rule, "%s", msg)
	})
}

// checkLinearizable runs the rounds and reports each failure through fail.
func checkLinearizable(ctx context.Context, cfg LinearizabilityConfig, stores []store.Store, fail func(method, rule, msg string)) LinearizabilityResult {
	cfg.defaults()
	var res LinearizabilityResult
	tag := UniqueID()[:8]
	for round := range cfg.Rounds {
		seed := cfg.Seed + uint64(round)
		ops, failed := recordHistory(ctx, cfg, stores, seed, fmt.Sprintf("lin-%s-%d-", tag, round), fail)
		res.Rounds++
		res.Operations += len(ops) + failed.reads
		res.Failed += failed.reads + failed.writes
		began := time.Now()
		result := porcupine.CheckOperationsTimeout(registerModel, ops, cfg.CheckTimeout)
		res.LongestCheck = max(res.LongestCheck, time.Since(began))
		switch result {
		case porcupine.Ok:
			res.Linearizable++
		case porcupine.Illegal:
			fail("history", "not linearizable", fmt.Sprintf("seed %d: a history of %d operations (%d writes failed) is not linearizable%s",
				seed, len(ops), failed.writes, visualize(ops, seed)))
		default:
			fail("history", "check timed out", fmt.Sprintf("seed %d: checking a history of %d operations (%d writes failed) did not finish in %v; investigate it%s",
				seed, len(ops), failed.writes, cfg.CheckTimeout, visualize(ops, seed)))
		}
	}
	return res
}

// visualize writes porcupine's visualization of a failing history to a file
// and returns a note naming it, or nothing if that fails.
func visualize(ops []porcupine.Operation, seed uint64) string {
	_, info := porcupine.CheckOperationsVerbose(registerModel, ops, 10*time.Second)
	path := filepath.Join(os.TempDir(), "storetest-linearizability-"+strconv.FormatUint(seed, 10)+".html")
	if err := porcupine.VisualizePath(registerModel, info, path); err != nil {
		return ""
	}
	return "; visualization: " + path
}

// failures counts the calls that returned an error.
type failures struct{ reads, writes int }

// ctxKind is how an operation's context ends.
type ctxKind uint8

const (
	ctxLive       ctxKind = iota // the round's context
	ctxCanceled                  // cancelled before the call
	ctxCancelling                // cancelled during the call, after 0–2 ms
	ctxDeadline                  // a deadline 0–3 ms after the call begins
)

// recordHistory runs one round and returns its history. Gets that failed
// are left out (they have no effect); writes that failed are in it with an
// unknown outcome and an infinite return time.
func recordHistory(ctx context.Context, cfg LinearizabilityConfig, stores []store.Store, seed uint64, keyPrefix string, fail func(method, rule, msg string)) ([]porcupine.Operation, failures) {
	keys := make([]string, cfg.Keys)
	for i := range keys {
		keys[i] = keyPrefix + strconv.Itoa(i)
	}
	faultCtx, stopFault := context.WithCancel(ctx)
	var faultDone sync.WaitGroup
	if cfg.Fault != nil {
		faultDone.Add(1)
		go func() {
			defer faultDone.Done()
			cfg.Fault(faultCtx)
		}()
	}
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		failed  failures
	)
	start := time.Now()
	clock := func() int64 { return int64(time.Since(start)) }
	parallel(cfg.Clients, func(id int) {
		cl := &client{
			id: id, s: stores[id%len(stores)], keys: keys,
			rng:  rand.New(rand.NewPCG(seed, uint64(id))),
			seen: map[string]string{},
		}
		for range cfg.Operations {
			in := cl.next()
			kind := cl.ctxKind()
			opCtx, cancel := cl.context(ctx, kind)
			call := clock()
			out, err := cl.do(opCtx, in)
			ret := clock()
			cancel()
			if err != nil && cfg.Fault == nil {
				checkErrorCause(in, kind, err, fail)
			}
			cl.observe(in, out, err)
			mu.Lock()
			switch {
			case err != nil && in.kind == opGet:
				failed.reads++
			case err != nil:
				failed.writes++
				history = append(history, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: opOutput{unknown: true}, Return: math.MaxInt64})
			default:
				history = append(history, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
			}
			mu.Unlock()
		}
	})
	stopFault()
	faultDone.Wait()
	return history, failed
}

// checkErrorCause requires an error from a call made without injected
// faults to be the context's: context.Canceled for a cancelled context,
// context.DeadlineExceeded for one whose deadline passed.
func checkErrorCause(in opInput, kind ctxKind, err error, fail func(method, rule, msg string)) {
	var want error
	switch kind {
	case ctxLive:
		fail(in.kind.String(), "failed with a live context", fmt.Sprintf("%s = %v", in.kind, err))
		return
	case ctxCanceled, ctxCancelling:
		want = context.Canceled
	default:
		want = context.DeadlineExceeded
	}
	if !errors.Is(err, want) {
		fail(in.kind.String(), "want "+errName(want), fmt.Sprintf("%s error = %v after its context ended, want an error matching %v", in.kind, err, want))
	}
}

// client is one goroutine of a round: it picks operations at random, and
// remembers the last value it saw under each key so that many of its
// CompareAndSwap calls expect the right value.
type client struct {
	id   int
	s    store.Store
	keys []string
	rng  *rand.Rand
	seen map[string]string // key → last value seen ("" absent or unknown)
	seq  int
}

// value returns a value no other call writes.
func (c *client) value() string {
	c.seq++
	return "c" + strconv.Itoa(c.id) + "." + strconv.Itoa(c.seq)
}

// next picks the next operation: 35% Get, 20% Set, 10% Delete, 35%
// CompareAndSwap; some writes with an expiry already past.
func (c *client) next() opInput {
	in := opInput{key: c.keys[c.rng.IntN(len(c.keys))]}
	p := c.rng.IntN(100)
	switch {
	case p < 35:
		in.kind = opGet
	case p < 55:
		in.kind = opSet
		in.new = c.value()
		in.expired = c.rng.IntN(20) == 0
	case p < 65:
		in.kind = opDelete
	default:
		in.kind = opCAS
		switch q := c.rng.IntN(100); {
		case q < 60:
			in.old = c.seen[in.key] // right unless someone wrote since
		case q < 80:
			in.old = "" // only if absent
		default:
			in.old = "c" + strconv.Itoa(c.rng.IntN(8)) + "." + strconv.Itoa(1+c.rng.IntN(c.seq+1)) // a guess
		}
		switch q := c.rng.IntN(100); {
		case q < 15:
			in.new = "" // delete (or, with old empty too, nothing)
		default:
			in.new = c.value()
			in.expired = q < 20
		}
	}
	return in
}

// ctxKind picks how the next call's context ends: most calls get the
// round's context; 4% a cancelled one, 4% one cancelled during the call,
// 8% a deadline of 0–3 ms.
func (c *client) ctxKind() ctxKind {
	switch p := c.rng.IntN(100); {
	case p < 4:
		return ctxCanceled
	case p < 8:
		return ctxCancelling
	case p < 16:
		return ctxDeadline
	}
	return ctxLive
}

func (c *client) context(ctx context.Context, kind ctxKind) (context.Context, context.CancelFunc) {
	switch kind {
	case ctxCanceled:
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		return ctx, cancel
	case ctxCancelling:
		ctx, cancel := context.WithCancel(ctx)
		t := time.AfterFunc(time.Duration(c.rng.IntN(2000))*time.Microsecond, cancel)
		return ctx, func() { t.Stop(); cancel() }
	case ctxDeadline:
		return context.WithTimeout(ctx, time.Duration(c.rng.IntN(3000))*time.Microsecond)
	}
	return context.WithCancel(ctx)
}

// do makes the call in describes.
func (c *client) do(ctx context.Context, in opInput) (opOutput, error) {
	exp := time.Now().Add(time.Minute)
	if in.expired {
		exp = time.Now().Add(-time.Second)
	}
	switch in.kind {
	case opGet:
		v, err := c.s.Get(ctx, in.key)
		if errors.Is(err, store.ErrNotFound) {
			return opOutput{}, nil
		}
		return opOutput{value: string(v), found: err == nil}, err
	case opSet:
		return opOutput{}, c.s.Set(ctx, in.key, []byte(in.new), exp)
	case opDelete:
		return opOutput{}, c.s.Delete(ctx, in.key)
	}
	ok, err := c.s.CompareAndSwap(ctx, in.key, []byte(in.old), []byte(in.new), exp)
	return opOutput{swapped: ok}, err
}

// observe updates what the client believes each key holds.
func (c *client) observe(in opInput, out opOutput, err error) {
	switch {
	case err != nil:
		c.seen[in.key] = "" // unknown: guess absent
	case in.kind == opGet:
		c.seen[in.key] = out.value
	case in.kind == opCAS && !out.swapped:
	default:
		c.seen[in.key] = written(in)
	}
}
