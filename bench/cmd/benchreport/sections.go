package main

import (
	"fmt"
	"os"
	"strings"
)

// floors writes the floor benchmarks: authkit against the bare
// standard-library operation it wraps.
func floors(b *strings.Builder, res map[string]result, order []string) {
	b.WriteString("\n## Floors: authkit against the operation it wraps\n\n")
	b.WriteString("Each floor is the bare operation no implementation can skip, on the same bytes, in the same process and rounds as authkit's side; the ratio is what authkit's parsing, checks and bookkeeping add to it. The Redis floors (one raw `GET`) are in the Redis section below.\n\n")
	b.WriteString("- **JWT** (`BenchmarkJWTFloor`), first-seen verification of a pool of distinct authkit-issued tokens, as in `BenchmarkJWTVerify` (revocation off, verified-token cache on, so authkit's figure includes the cache insert). *stdlib* is the signature check alone over the same signing input and signature, decoded in setup: HS256 one reused `hmac.New(sha256.New, key)` and `hmac.Equal`; ES256 SHA-256 and `ecdsa.VerifyASN1` of the signature's DER form, made from the raw r‖s in setup (cheaper than `ecdsa.Verify` of r and s as big.Ints, which re-encodes it); EdDSA `ed25519.Verify`; RS256 SHA-256 and `rsa.VerifyPKCS1v15`; PS256 SHA-256 and `rsa.VerifyPSS` (salt as long as the hash). Keys: 32-byte HMAC secret, P-256, Ed25519, RSA 2048.\n")
	b.WriteString("- **Cookie** (`BenchmarkCookieFloor`), seal then open of a 64-byte value: authkit `Codec.Seal` + `Codec.Open` (header with key ID and expiry; name and header authenticated; expiry checked) against a bare XChaCha20-Poly1305 (x/crypto, the same AEAD) seal under a random 24-byte nonce from crypto/rand, nonce and ciphertext base64url-encoded to a string, then decoded and opened.\n\n")
	table(b, res, order, "JWTFloor", nil)
	table(b, res, order, "CookieFloor", nil)
}

// memoryScale writes the cmd/scale -floor results: each operation at 1k
// and 1M sessions.
func memoryScale(b *strings.Builder, res map[string]result) {
	b.WriteString("\n## Memory store: a million sessions against a thousand\n\n")
	b.WriteString("`go run ./cmd/scale -floor`: two `store.Memory` stores, one with 1,000 and one with 1,000,000 logged-in sessions (made with `Manager.Login` behind the Middleware, one user each, so each store also holds an index record per user), both kept in memory while the rounds alternate between them. *bare Go map* is the floor of a Get: the same keys and values in one plain `map[string][]byte`, looked up in the same order and the value copied out as `Store.Get` does, with no shard, lock, expiry check or key check — its own 1M / 1k ratio is what the memory system charges any in-memory store on this machine; *store Get* is `Store.Get` of a session record's key; *session load* is `Manager.Authenticate` on a request carrying a session cookie (cookie parse, SHA-256, Get, decode). Each measurement visits every session of its store in a random order fixed in setup, so the store is read cold, as a server with that many active users reads it; the keys and cookies handed in are packed in one string in visiting order, so the caller's side stays in cache at both sizes and only the store's size differs.\n\n")
	type op struct{ name, label string }
	var rows []string
	for _, o := range []op{{"map-get", "bare Go map: lookup and copy (the floor)"}, {"store-get", "store Get"}, {"session-load", "session load"}} {
		small, ok1 := res["MemoryScale/op="+o.name+"/entries=1k"]
		large, ok2 := res["MemoryScale/op="+o.name+"/entries=1M"]
		if !ok1 || !ok2 {
			continue
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s, %s | %d |", o.label, timeCI(small), timeCI(large), ratioStr(large.sec, small.sec), num(small.allocs), num(large.allocs), min(small.n, large.n)))
	}
	if len(rows) == 0 {
		b.WriteString("Not measured in this report.\n")
		return
	}
	b.WriteString("| operation | 1k sessions | 1M sessions | 1M / 1k | allocs/op (1k, 1M) | n |\n|---|---:|---:|---:|---:|---:|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n")
}

// throughput writes the cmd/throughput results.
func throughput(b *strings.Builder, res map[string]result, order []string) {
	b.WriteString("\n## Throughput under concurrency (memory store)\n\n")
	b.WriteString("`go run ./cmd/throughput`: one server on loopback, in process: `GET /api/me` is `authkit.Require(sessions, tokens, jwts)` around a handler writing a small JSON answer, `GET /bare` is the same handler alone. The session Manager, the token Manager and the JWT Verifier (HS256, revocation on, so each verification reads the store) share one `store.Memory`; 64 credentials of each kind are made first. 64 clients (goroutines with Go's net/http client, one keep-alive connection each, one request at a time) load one route at a time for 2 s after a 0.5 s warm-up, the routes interleaved (bare, session, token, jwt, bare, …) for 3 rounds; every answer is checked. The load generator shares the two cores with the server, equally for every route. Latencies are as the clients see them.\n\n")
	defer func() {
		b.WriteString("\nThe same middleware in process, without the network (`BenchmarkRequire`): the /api/me handler served through `httptest` (new request, credential, recorder) on the same kind of setup, against the handler alone (*bare*) on the same request. The difference is what `Require` and the mechanism's check add to each request.\n\n")
		table(b, res, order, "Require", nil)
	}()
	bare, ok := res["Throughput/route=bare"]
	if !ok {
		b.WriteString("Not measured in this report.\n")
		return
	}
	b.WriteString("| route | credential | requests/s | vs bare | p50 | p50 vs bare | p99 | p99 vs bare | n |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, kind := range []string{"bare", "session", "token", "jwt"} {
		r, ok := res["Throughput/route="+kind]
		if !ok {
			continue
		}
		route := "/api/me"
		if kind == "bare" {
			route = "/bare"
		}
		m, bm := r.metrics, bare.metrics
		fmt.Fprintf(b, "| %s | %s | %.0f | %s | %s | %s | %s | %s | %d |\n", route, kind,
			m["req/s"], ratioStr(m["req/s"], bm["req/s"]),
			dur(m["p50-sec"]), ratioStr(m["p50-sec"], bm["p50-sec"]),
			dur(m["p99-sec"]), ratioStr(m["p99-sec"], bm["p99-sec"]), r.n)
	}
}

// tripRow is one row of a TestRoundTrips table.
type tripRow struct{ calls, order string }

// readTrips reads a TestRoundTrips Markdown table, and the lines before
// it (a note on when it was measured).
func readTrips(path string) (note string, ops []string, rows map[string]tripRow) {
	d, err := os.ReadFile(path)
	if err != nil {
		return "", nil, nil
	}
	rows = map[string]tripRow{}
	var notes []string
	for _, l := range strings.Split(string(d), "\n") {
		if !strings.HasPrefix(l, "|") {
			if strings.TrimSpace(l) != "" {
				notes = append(notes, strings.TrimSpace(l))
			}
			continue
		}
		f := strings.Split(strings.Trim(l, "|"), "|")
		if len(f) < 5 || strings.TrimSpace(f[0]) == "operation" || strings.HasPrefix(strings.TrimSpace(f[0]), "---") {
			continue
		}
		op := strings.TrimSpace(f[0])
		ops = append(ops, op)
		rows[op] = tripRow{calls: strings.TrimSpace(f[1]), order: strings.TrimSpace(f[4])}
	}
	return strings.Join(notes, " "), ops, rows
}

// roundTrips writes the store calls per operation now, next to an earlier
// measurement when there is one.
func roundTrips(b *strings.Builder, basePath, nowPath string) {
	b.WriteString("\n## Store round trips per operation\n\n")
	b.WriteString("`TestRoundTrips` (in bench/, run by the script first) runs each operation once on a `store.Memory` behind a store that logs every call, and checks that each did its job (a revoked credential no longer authenticates, a renewed ID replaces the old one, a load is one read). On Redis or SQL every store call is one network round trip, so this is each operation's latency floor in round trips. Calls are shown as operation and key namespace (`sess:` session record, `sidx:` a user's session index, `tok:` access token, `tidx:` a user's token index, `rtf:` refresh family, `rtfidx:` a user's family index, `otidx:` a user's one-time token index, `jrev:` a user's JWT revocation record); RevokeSubject rows end 5 credentials.\n\n")
	_, nowOps, now := readTrips(nowPath)
	if now == nil {
		b.WriteString("Not measured in this report.\n")
		return
	}
	baseNote, baseOps, base := readTrips(basePath)
	if base == nil {
		b.WriteString("| operation | store calls | calls in order |\n|---|---:|---|\n")
		for _, op := range nowOps {
			fmt.Fprintf(b, "| %s | %s | %s |\n", op, now[op].calls, now[op].order)
		}
		return
	}
	fmt.Fprintf(b, "*Before* is the reference table kept in `bench/results/roundtrips-baseline.md`, %s; *now* is this run. A changed count is in bold.\n\n", strings.TrimSuffix(baseNote, "."))
	b.WriteString("| operation | before | now | calls now, in order | calls before, where different |\n|---|---:|---:|---|---|\n")
	seen := map[string]bool{}
	for _, op := range append(nowOps, baseOps...) {
		if seen[op] {
			continue
		}
		seen[op] = true
		n, inNow := now[op]
		o, inBase := base[op]
		before, after, order, was := "—", "—", "", ""
		if inBase {
			before = o.calls
		}
		if inNow {
			after, order = n.calls, n.order
		}
		if inBase && inNow && o.order != n.order {
			was = o.order
			if o.calls != n.calls {
				after = "**" + after + "**"
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", op, before, after, order, was)
	}
}
