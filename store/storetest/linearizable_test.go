package storetest

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/authkit/authkit/store"
)

// op builds a history entry on key "k"; ret < 0 means the call failed (an
// unknown outcome, returning at infinity).
func histOp(client int, in opInput, out opOutput, call, ret int64) porcupine.Operation {
	in.key = "k"
	if ret < 0 {
		out = opOutput{unknown: true}
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func get(value string) (opInput, opOutput) {
	return opInput{kind: opGet}, opOutput{value: value, found: value != ""}
}

// TestRegisterModel checks the model on hand-written histories, including
// the lost-reply re-send that a Store must never do.
func TestRegisterModel(t *testing.T) {
	set := func(v string) opInput { return opInput{kind: opSet, new: v} }
	cas := func(old, new string) opInput { return opInput{kind: opCAS, old: old, new: new} }
	ok, swapped, notSwapped := opOutput{}, opOutput{swapped: true}, opOutput{}
	g := func(client int, v string, call, ret int64) porcupine.Operation {
		in, out := get(v)
		return histOp(client, in, out, call, ret)
	}
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"set then get", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 1), g(1, "a", 2, 3),
		}, porcupine.Ok},
		{"get misses a completed set", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 1), g(1, "", 2, 3),
		}, porcupine.Illegal},
		{"concurrent get may see either", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 10), g(1, "", 2, 3), g(2, "a", 4, 5),
		}, porcupine.Ok},
		{"failed set may apply later", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, -1), g(1, "", 2, 3), g(1, "a", 4, 5),
		}, porcupine.Ok},
		{"failed set may never apply", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, -1), g(1, "", 2, 3), g(1, "", 4, 5),
		}, porcupine.Ok},
		{"failed set applies once, not twice", []porcupine.Operation{
			// A's SET is seen, B swaps it, then A's SET is seen again:
			// what a re-sent write after a lost reply produces.
			histOp(0, set("a"), ok, 0, -1), g(1, "a", 1, 2),
			histOp(1, cas("a", "b"), swapped, 3, 4), g(1, "a", 5, 6),
		}, porcupine.Illegal},
		{"re-sent set that reported success", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 10), g(1, "a", 1, 2),
			histOp(1, cas("a", "b"), swapped, 3, 4), g(1, "a", 11, 12),
		}, porcupine.Illegal},
		{"re-sent delete", []porcupine.Operation{
			histOp(2, set("a"), ok, 0, 1),
			histOp(0, opInput{kind: opDelete}, ok, 2, -1), g(1, "", 3, 4),
			histOp(1, cas("", "b"), swapped, 5, 6), g(1, "", 7, 8),
		}, porcupine.Illegal},
		{"delayed delete", []porcupine.Operation{
			// Unobserved, a failed Delete may land late: legal.
			histOp(0, opInput{kind: opDelete}, ok, 0, -1), g(1, "", 1, 2),
			histOp(1, cas("", "b"), swapped, 3, 4), g(1, "", 5, 6),
		}, porcupine.Ok},
		{"cas if absent", []porcupine.Operation{
			histOp(0, cas("", "a"), swapped, 0, 1), histOp(1, cas("", "b"), notSwapped, 2, 3), g(1, "a", 4, 5),
		}, porcupine.Ok},
		{"two winners of cas if absent", []porcupine.Operation{
			histOp(0, cas("", "a"), swapped, 0, 5), histOp(1, cas("", "b"), swapped, 0, 5),
		}, porcupine.Illegal},
		{"cas mismatch reports false", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 1), histOp(1, cas("x", "b"), swapped, 2, 3),
		}, porcupine.Illegal},
		{"cas with both empty is false", []porcupine.Operation{
			histOp(0, cas("", ""), swapped, 0, 1),
		}, porcupine.Illegal},
		{"cas with both empty changes nothing", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 1), histOp(1, cas("", ""), notSwapped, 2, 3), g(1, "a", 4, 5),
		}, porcupine.Ok},
		{"cas to empty deletes", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 1), histOp(1, cas("a", ""), swapped, 2, 3), g(1, "", 4, 5),
		}, porcupine.Ok},
		{"expired set leaves nothing", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 1), histOp(1, opInput{kind: opSet, new: "b", expired: true}, ok, 2, 3), g(1, "", 4, 5),
		}, porcupine.Ok},
		{"expired cas reports the swap and leaves nothing", []porcupine.Operation{
			histOp(0, set("a"), ok, 0, 1), histOp(1, opInput{kind: opCAS, old: "a", new: "b", expired: true}, swapped, 2, 3), g(1, "b", 4, 5),
		}, porcupine.Illegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := porcupine.CheckOperationsTimeout(registerModel, tt.history, 0); got != tt.want {
				t.Errorf("check = %v, want %v", got, tt.want)
			}
		})
	}
}

// runLinearizable runs the checker and returns the report's lines.
func runLinearizable(cfg LinearizabilityConfig, stores ...store.Store) ([]string, LinearizabilityResult) {
	r := newReport()
	res := checkLinearizable(context.Background(), cfg, stores, func(method, rule, msg string) {
		r.add("lin", method, rule, msg)
	})
	return r.lines(), res
}

// TestLinearizableCatches runs the checker with one client, whose history
// is sequential and fixed by the seed, against stores that break the
// contract in ways one client sees.
func TestLinearizableCatches(t *testing.T) {
	t.Parallel()
	one := LinearizabilityConfig{Clients: 1, Operations: 200, Seed: 1}
	tests := []struct {
		name string
		bugs bugs
		want string // a substring of a report line
	}{
		{"re-sent writes", bugs{replaysWrites: true}, "history: not linearizable"},
		{"dropped writes", bugs{dropsWrites: true}, "history: not linearizable"},
		{"errors not matching the context", bugs{bareErrors: true}, "want context.Canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines, _ := runLinearizable(one, newFake(tt.bugs))
			if !strings.Contains(strings.Join(lines, "\n"), tt.want) {
				t.Errorf("report does not say %q:\n%s", tt.want, strings.Join(lines, "\n"))
			}
		})
	}
}

// TestLinearizablePasses runs the checker against correct stores, with
// several clients: every interleaving of a correct store must pass. A store
// whose writes sometimes fail after applying is correct too, as long as
// its errors come with injected faults.
func TestLinearizablePasses(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	var faults sync.WaitGroup
	tests := []struct {
		name   string
		cfg    LinearizabilityConfig
		stores []store.Store
	}{
		{"fake", LinearizabilityConfig{Rounds: 3}, []store.Store{newFake(bugs{})}},
		{"Memory", LinearizabilityConfig{Rounds: 3}, []store.Store{mem}},
		{"Memory shared by two stores", LinearizabilityConfig{Rounds: 2}, []store.Store{mem, store.WithTimeout(mem, 1<<40)}},
		{"writes fail after applying", LinearizabilityConfig{Rounds: 3, Fault: func(ctx context.Context) {
			faults.Add(1)
			defer faults.Done()
			<-ctx.Done()
		}}, []store.Store{newFake(bugs{failsAfterWrite: true})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines, res := runLinearizable(tt.cfg, tt.stores...)
			if len(lines) > 0 {
				t.Errorf("a correct store failed:\n%s", strings.Join(lines, "\n"))
			}
			if res.Rounds != tt.cfg.Rounds || res.Linearizable != res.Rounds || res.Operations != tt.cfg.Rounds*8*60 {
				t.Errorf("result = %+v, want %d linearizable rounds of 480 calls", res, tt.cfg.Rounds)
			}
		})
	}
	faults.Wait()
}

// TestCheckLinearizableStdlib runs the exported function on *testing.T.
func TestCheckLinearizableStdlib(t *testing.T) {
	t.Parallel()
	res := CheckLinearizable(t, LinearizabilityConfig{Rounds: 2}, newFake(bugs{}))
	if res.Rounds != 2 || res.Linearizable != 2 {
		t.Errorf("result = %+v", res)
	}
}
