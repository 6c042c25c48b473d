package storetest

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// report gathers the suite's failures so that each rule a method breaks is
// reported once, with a count, instead of once per input: a store that
// forgets [store.CheckKey] breaks one rule on each of four methods, not a
// hundred. [Run] prints the report from the caller's goroutine after every
// subtest has finished, so each line points at the caller's test, where the
// adapter is, rather than into the suite. The failing subtests are still
// marked failed, so -run can select them.
type report struct {
	mu     sync.Mutex
	groups map[reportKey]*reportGroup
	order  []reportKey
}

// reportKey is one rule broken by one method.
type reportKey struct {
	method string // "Get", "Set", "Delete", "CompareAndSwap", or what the case exercises
	rule   string // what the method failed to do, e.g. "want ErrInvalidKey"
}

// reportGroup is every failure of one reportKey.
type reportGroup struct {
	count int
	first string   // the first failure's message
	tests []string // the subtests it failed in, in order of first failure
}

func newReport() *report { return &report{groups: map[reportKey]*reportGroup{}} }

// add records one failure of method against rule in the subtest test.
func (r *report) add(test, method, rule, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := reportKey{method, rule}
	g := r.groups[k]
	if g == nil {
		g = &reportGroup{first: msg}
		r.groups[k] = g
		r.order = append(r.order, k)
	}
	g.count++
	if !contains(g.tests, test) {
		g.tests = append(g.tests, test)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lines returns one line per broken rule, in the order the rules were
// first broken:
//
//	Get: want ErrInvalidKey: 17 failures in Keys/Invalid; first: Get(key "a b") error = <nil>, want store: invalid key
func (r *report) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.order))
	for _, k := range r.order {
		g := r.groups[k]
		n := "1 failure"
		if g.count > 1 {
			n = fmt.Sprintf("%d failures", g.count)
		}
		out = append(out, fmt.Sprintf("%s: %s: %s in %s; first: %s", k.method, k.rule, n, strings.Join(g.tests, ", "), g.first))
	}
	return out
}

// tests returns the names of the subtests that reported failures, sorted.
func (r *report) tests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, g := range r.groups {
		for _, t := range g.tests {
			if !contains(names, t) {
				names = append(names, t)
			}
		}
	}
	sort.Strings(names)
	return names
}
