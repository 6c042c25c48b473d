package main

import (
	"fmt"
	"math"
	"strings"
)

// target is a goal stated as a ratio of two benchmark medians from the
// same run: authkit's side over what it is measured against (a peer, a
// floor, or authkit itself at another size).
type target struct {
	what      string
	ak, base  string  // benchmark names
	unit      string  // benchstat unit compared; "" means sec/op
	limit     float64 // the ratio must be ≤ limit (≥ with atLeast)
	atLeast   bool
	net       bool    // subtract the harness median from both sides
	maxAllocs float64 // if > 0, authkit's allocs/op must also be ≤ this
}

// allTargets are the goals docs/BENCHMARKS.md checks, in its order.
var allTargets = []target{
	{what: "Session read, net of harness, time (idle 30 min), vs scs", ak: "SessionRead/idle=30m/impl=authkit", base: "SessionRead/idle=30m/impl=scs", limit: 0.25, net: true},
	{what: "Session read, net of harness, allocations (idle 30 min), vs scs", ak: "SessionRead/idle=30m/impl=authkit", base: "SessionRead/idle=30m/impl=scs", unit: "allocs/op", limit: 0.2, net: true},
	{what: "Session read, net of harness, time (no idle timeout), vs scs", ak: "SessionRead/idle=none/impl=authkit", base: "SessionRead/idle=none/impl=scs", limit: 0.25, net: true},
	{what: "Session read, net of harness, allocations (no idle timeout), vs scs", ak: "SessionRead/idle=none/impl=authkit", base: "SessionRead/idle=none/impl=scs", unit: "allocs/op", limit: 0.2, net: true},
	{what: "Session write, net of harness, time (idle 30 min), vs scs", ak: "SessionWrite/idle=30m/impl=authkit", base: "SessionWrite/idle=30m/impl=scs", limit: 0.3, net: true},
	{what: "Session write, net of harness, time (no idle timeout), vs scs", ak: "SessionWrite/idle=none/impl=authkit", base: "SessionWrite/idle=none/impl=scs", limit: 0.3, net: true},
	{what: "Cookie seal+open vs securecookie NopEncoder, time (and authkit ≤ 8 allocs)", ak: "CookieSealOpen/impl=authkit", base: "CookieSealOpen/impl=securecookie-nop", limit: 0.4, maxAllocs: 8},
	{what: "Cookie seal+open vs securecookie default (gob), time", ak: "CookieSealOpen/impl=authkit", base: "CookieSealOpen/impl=securecookie-gob", limit: 0.1},
	{what: "JWT HS256 verify, first-seen, vs golang-jwt, time", ak: "JWTVerify/alg=HS256/mode=first-seen/impl=authkit", base: "JWTVerify/alg=HS256/mode=first-seen/impl=golang-jwt", limit: 1.0},
	{what: "JWT HS256 verify, cached, vs golang-jwt, time", ak: "JWTVerify/alg=HS256/mode=cached/impl=authkit", base: "JWTVerify/alg=HS256/mode=cached/impl=golang-jwt", limit: 0.15},
	{what: "Floor: JWT HS256 first-seen verify vs bare HMAC-SHA256 check", ak: "JWTFloor/alg=HS256/impl=authkit", base: "JWTFloor/alg=HS256/impl=stdlib", limit: 2.0},
	{what: "Floor: JWT ES256 first-seen verify vs bare ecdsa check", ak: "JWTFloor/alg=ES256/impl=authkit", base: "JWTFloor/alg=ES256/impl=stdlib", limit: 1.1},
	{what: "Floor: JWT EdDSA first-seen verify vs bare ed25519.Verify", ak: "JWTFloor/alg=EdDSA/impl=authkit", base: "JWTFloor/alg=EdDSA/impl=stdlib", limit: 1.1},
	{what: "Floor: JWT RS256 first-seen verify vs bare rsa.VerifyPKCS1v15", ak: "JWTFloor/alg=RS256/impl=authkit", base: "JWTFloor/alg=RS256/impl=stdlib", limit: 1.1},
	{what: "Floor: JWT PS256 first-seen verify vs bare rsa.VerifyPSS", ak: "JWTFloor/alg=PS256/impl=authkit", base: "JWTFloor/alg=PS256/impl=stdlib", limit: 1.1},
	{what: "Floor: cookie seal+open vs bare XChaCha20-Poly1305 + base64url", ak: "CookieFloor/impl=authkit", base: "CookieFloor/impl=stdlib", limit: 1.25},
	{what: "Floor: Redis session load vs raw GET", ak: "RedisSessionLoad/impl=authkit", base: "RedisSessionLoad/impl=raw-get", limit: 1.05},
	{what: "Floor: Redis token verify vs raw GET", ak: "RedisTokenVerify/impl=authkit", base: "RedisTokenVerify/impl=raw-get", limit: 1.05},
	{what: "Scale: memory store Get, 1M entries vs 1k", ak: "MemoryScale/op=store-get/entries=1M", base: "MemoryScale/op=store-get/entries=1k", limit: 1.5},
	{what: "Scale: session load on the memory store, 1M sessions vs 1k", ak: "MemoryScale/op=session-load/entries=1M", base: "MemoryScale/op=session-load/entries=1k", limit: 1.3},
	{what: "Floor: memory store Get at 1M entries vs a bare Go map lookup and copy at 1M", ak: "MemoryScale/op=store-get/entries=1M", base: "MemoryScale/op=map-get/entries=1M", limit: 1.5},
	{what: "Throughput: Require, session cookie, requests/s vs bare handler", ak: "Throughput/route=session", base: "Throughput/route=bare", unit: "req/s", limit: 0.85, atLeast: true},
	{what: "Throughput: Require, opaque token, requests/s vs bare handler", ak: "Throughput/route=token", base: "Throughput/route=bare", unit: "req/s", limit: 0.85, atLeast: true},
	{what: "Throughput: Require, JWT, requests/s vs bare handler", ak: "Throughput/route=jwt", base: "Throughput/route=bare", unit: "req/s", limit: 0.85, atLeast: true},
	{what: "Throughput: Require, session cookie, p99 latency vs bare handler", ak: "Throughput/route=session", base: "Throughput/route=bare", unit: "p99-sec", limit: 1.5},
	{what: "Throughput: Require, opaque token, p99 latency vs bare handler", ak: "Throughput/route=token", base: "Throughput/route=bare", unit: "p99-sec", limit: 1.5},
	{what: "Throughput: Require, JWT, p99 latency vs bare handler", ak: "Throughput/route=jwt", base: "Throughput/route=bare", unit: "p99-sec", limit: 1.5},
}

// outcome is a target evaluated on one run.
type outcome struct {
	measured bool
	a, p     float64 // the two sides (net of the harness where the target says)
	ratio    float64
	allocs   float64 // authkit's allocs/op
}

func (t target) metric() string {
	if t.unit == "" {
		return "sec/op"
	}
	return t.unit
}

func (t target) eval(res map[string]result) outcome {
	ak, ok1 := res[t.ak]
	base, ok2 := res[t.base]
	a, okA := ak.metrics[t.metric()]
	p, okP := base.metrics[t.metric()]
	if !ok1 || !ok2 || !okA || !okP {
		return outcome{}
	}
	if t.net {
		h := res["Harness"].metrics[t.metric()]
		a, p = a-h, p-h
	}
	if p == 0 {
		return outcome{}
	}
	return outcome{measured: true, a: a, p: p, ratio: a / p, allocs: ak.allocs}
}

// holds reports whether o meets the target.
func (t target) holds(o outcome) bool {
	if !o.measured {
		return false
	}
	ok := o.ratio <= t.limit
	if t.atLeast {
		ok = o.ratio >= t.limit
	}
	return ok && (t.maxAllocs == 0 || o.allocs <= t.maxAllocs)
}

// worse reports whether x is a worse ratio than y for this target.
func (t target) worse(x, y float64) bool {
	if t.atLeast {
		return x < y
	}
	return x > y
}

func (t target) limitStr() string {
	if t.atLeast {
		return fmt.Sprintf("≥ %.2f×", t.limit)
	}
	return fmt.Sprintf("≤ %.2f×", t.limit)
}

// value formats one side's figure in the target's unit.
func (t target) value(v float64) string {
	switch u := t.metric(); {
	case u == "sec/op" || strings.HasSuffix(u, "-sec"):
		return dur(v)
	case u == "allocs/op":
		return num(v) + " allocs"
	case u == "req/s":
		return fmt.Sprintf("%.0f req/s", v)
	default:
		return num(v) + " " + u
	}
}

// margin says by how much o meets or misses the target.
func (t target) margin(o outcome) string {
	var verdict string
	switch r := o.ratio / t.limit; {
	case t.atLeast && r >= 1:
		verdict = fmt.Sprintf("met (%s above the limit)", pct(r-1))
	case t.atLeast:
		verdict = fmt.Sprintf("**missed** (%s below the limit)", pct(1-r))
	case r <= 1:
		verdict = fmt.Sprintf("met (%s under the limit)", pct(1-r))
	default:
		verdict = fmt.Sprintf("**missed** (%s over the limit)", pct(r-1))
	}
	if t.maxAllocs > 0 {
		if o.allocs <= t.maxAllocs {
			verdict += fmt.Sprintf("; allocs %s ≤ %s: met", num(o.allocs), num(t.maxAllocs))
		} else {
			verdict += fmt.Sprintf("; allocs %s > %s: **missed**", num(o.allocs), num(t.maxAllocs))
		}
	}
	return verdict
}

// targets writes the targets table of a single run.
func targets(b *strings.Builder, res map[string]result) {
	b.WriteString("Ratio of medians, authkit / what it is measured against, from this run. Session targets are net of the harness (its median subtracted from both sides).\n\n")
	b.WriteString("| target | limit | authkit | against | ratio | result |\n|---|---:|---:|---:|---:|---|\n")
	for _, t := range allTargets {
		o := t.eval(res)
		if !o.measured {
			fmt.Fprintf(b, "| %s | %s | | | | not measured in this run |\n", t.what, t.limitStr())
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.3f× | %s |\n", t.what, t.limitStr(), t.value(o.a), t.value(o.p), o.ratio, t.margin(o))
	}
}

// worstOfRuns writes the targets table of several independent runs: each
// run's ratio, their spread, and the verdict on the worst of them.
func worstOfRuns(b *strings.Builder, runs []map[string]result) {
	fmt.Fprintf(b, "Each target's ratio of medians in each of %d independent runs (each its own process and its own interleaved rounds, one after the other), their spread, and the worst of them. **A target holds only if it holds in the worst run.**\n\n", len(runs))
	b.WriteString("| target | limit |")
	for i := range runs {
		fmt.Fprintf(b, " run %d |", i+1)
	}
	b.WriteString(" spread | worst run: authkit, against | result on the worst run |\n|---|---:|")
	for range runs {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---:|---|\n")
	held, total := 0, 0
	for _, t := range allTargets {
		var worst outcome
		lo, hi := math.Inf(1), math.Inf(-1)
		cells, missing := "", 0
		for _, res := range runs {
			o := t.eval(res)
			if !o.measured {
				cells += " — |"
				missing++
				continue
			}
			mark := ""
			if !t.holds(o) {
				mark = " ✗"
			}
			cells += fmt.Sprintf(" %.3f×%s |", o.ratio, mark)
			lo, hi = min(lo, o.ratio), max(hi, o.ratio)
			if !worst.measured || t.worse(o.ratio, worst.ratio) || (t.holds(worst) && !t.holds(o)) {
				worst = o
			}
		}
		fmt.Fprintf(b, "| %s | %s |%s", t.what, t.limitStr(), cells)
		if missing == len(runs) {
			b.WriteString(" | | not measured |\n")
			continue
		}
		total++
		spread := fmt.Sprintf("%.3f–%.3f×", lo, hi)
		if lo > 0 {
			spread += fmt.Sprintf(" (%s)", pct(hi/lo-1))
		}
		verdict := t.margin(worst)
		if missing > 0 {
			verdict = fmt.Sprintf("not measured in %d of %d runs; %s", missing, len(runs), verdict)
		} else if t.holds(worst) {
			held++
		}
		fmt.Fprintf(b, " %s | %s, %s | %s |\n", spread, t.value(worst.a), t.value(worst.p), verdict)
	}
	fmt.Fprintf(b, "\n%d of %d measured targets hold in the worst of %d runs.\n", held, total, len(runs))
}
