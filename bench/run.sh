#!/usr/bin/env bash
# run.sh runs authkit's side-by-side benchmarks against its peers and writes
# docs/BENCHMARKS.md.
#
#   bench/run.sh              benchmarks (10 interleaved rounds) + load-and-fault run
#                             (an in-process server, then examples/demo)
#   bench/run.sh -scale       ... plus the scale mode (slow: up to a million sessions)
#   bench/run.sh -quick       2 rounds, short benchtime, no load run: a smoke test
#                             that writes its report to a temporary file only
#
# Environment:
#   AUTHKIT_REDIS_ADDR   Redis for the Redis benchmarks (skipped when unset).
#                        The scale and fault runs start their own redis-server on
#                        a free loopback port and never touch this one.
#   ROUNDS               benchmark rounds (default 10); each round runs every
#                        benchmark once, so each side gets ROUNDS samples and
#                        authkit and its peers are interleaved in time.
#   BENCHTIME            -test.benchtime of the fast benchmarks (default 0.5s).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
out="$here/../docs/BENCHMARKS.md"
rounds=${ROUNDS:-10}
benchtime=${BENCHTIME:-0.5s}
scale=0 load=1 quick=0
cmdline="bench/run.sh"
for arg in "$@"; do
	case "$arg" in
	-scale) scale=1; cmdline+=" -scale" ;;
	-no-load) load=0; cmdline+=" -no-load" ;;
	-quick) quick=1 rounds=2 benchtime=0.05s load=0 ;;
	*) echo "usage: $0 [-scale] [-no-load] [-quick]" >&2; exit 2 ;;
	esac
done
[ -n "${ROUNDS:-}" ] && cmdline="ROUNDS=$ROUNDS $cmdline"
[ -n "${BENCHTIME:-}" ] && cmdline="BENCHTIME=$BENCHTIME $cmdline"
[ -n "${AUTHKIT_REDIS_ADDR:-}" ] && cmdline="AUTHKIT_REDIS_ADDR=$AUTHKIT_REDIS_ADDR $cmdline"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p results "$(dirname "$out")"
raw="$tmp/raw.txt"
details="$tmp/commands.txt"

echo "== vet, the cross-check test and the one-read test"
go vet ./...
go test -c -o "$tmp/bench.test" .
"$tmp/bench.test" -test.run '^(TestArgon2idCrossCheck|TestOneStoreReadPerLoad)$' -test.v | grep -E '^(---|PASS|FAIL|ok)'

if [ -n "${AUTHKIT_REDIS_ADDR:-}" ]; then
	redis_note="Redis benchmarks ran against AUTHKIT_REDIS_ADDR=$AUTHKIT_REDIS_ADDR ($(redis-cli -u "redis://$AUTHKIT_REDIS_ADDR" INFO server 2>/dev/null | tr -d '\r' | grep '^redis_version:' | sed 's/redis_version:/Redis /' || echo Redis)), under a random key prefix removed afterwards."
else
	redis_note="**Skipped in this run: AUTHKIT_REDIS_ADDR is not set.** Set it (for example to 127.0.0.1:6379) to include them."
	echo "AUTHKIT_REDIS_ADDR is not set: skipping the Redis benchmarks"
fi

# Each round runs every benchmark once (-test.count=1), so the samples of
# authkit and of its peers are spread over the whole run.
bench() { # pattern benchtime
	echo "./bench.test -test.run '^\$' -test.bench '$1' -test.benchtime $2 -test.benchmem -test.count 1" >>"$details.round"
	"$tmp/bench.test" -test.run '^$' -test.bench "$1" -test.benchtime "$2" -test.benchmem -test.count 1 >>"$raw"
}
echo "# in bench/: go test -c -o bench.test . && ./bench.test -test.run '^(TestArgon2idCrossCheck|TestOneStoreReadPerLoad)$'; then $rounds rounds of:" >"$details"
for i in $(seq 1 "$rounds"); do
	echo "== round $i of $rounds"
	: >"$details.round"
	bench '^Benchmark(Harness|SessionRead|SessionWrite|CookieSealOpen|JWTVerify|RedisSessionLoad|RedisTokenVerify)$' "$benchtime"
	bench '^BenchmarkJWTSign$/alg=(HS256|ES256|EdDSA)$' "$benchtime"
	if [ "$quick" = 1 ]; then
		bench '^BenchmarkJWTSign$/alg=RS256$' 10x
		bench '^BenchmarkArgon2idVerify$' 2x
	else
		bench '^BenchmarkJWTSign$/alg=RS256$' 200x
		bench '^BenchmarkArgon2idVerify$' 10x
	fi
done
cat "$details.round" >>"$details"
rm -f "$details.round"

# The sections of a full run are kept in results/ with the raw output.
sections="$here/results"
[ "$quick" = 1 ] && sections="$tmp"
scale_md="" load_md="" load_status=""
if [ "$scale" = 1 ]; then
	echo "== scale (slow)"
	echo "go run ./cmd/scale -md scale.md" >>"$details"
	go run ./cmd/scale -md "$sections/scale.md"
	scale_md="$sections/scale.md"
fi
if [ "$load" = 1 ]; then
	echo "== load and faults"
	echo "go run ./cmd/loadfault -demo .. -md load.md" >>"$details"
	set +e
	go run ./cmd/loadfault -demo .. -md "$sections/load.md"
	load_status=$?
	set -e
	load_md="$sections/load.md"
fi

echo "== sign-in throttling simulation"
echo "go run ./cmd/credstuff \${AUTHKIT_REDIS_ADDR:+-redis \$AUTHKIT_REDIS_ADDR} -md signin.md" >>"$details"
go run ./cmd/credstuff ${AUTHKIT_REDIS_ADDR:+-redis "$AUTHKIT_REDIS_ADDR"} -md "$sections/signin.md" >/dev/null
signin_md="$sections/signin.md"

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "go run ./cmd/benchreport ... (writes docs/BENCHMARKS.md)" >>"$details"
if [ "$quick" = 1 ]; then
	out="$tmp/BENCHMARKS.md"
else
	cp "$raw" results/latest.txt
fi
go run ./cmd/benchreport -raw "$raw" -out "$out" -command "$cmdline" -details "$details" \
	-scale "$scale_md" -load "$load_md" -signin "$signin_md" -load-status "$load_status" -redis "$redis_note" \
	-loadavg "$load_start at the start, $load_end at the end" -started "$started"
if [ "$quick" = 1 ]; then
	sed -n '/^## Targets/,/^## Sessions/p' "$out"
else
	echo "wrote $out (raw benchmark output: bench/results/latest.txt)"
fi
if [ -n "$load_status" ] && [ "$load_status" != 0 ]; then
	echo "the load-and-fault run reported failed checks" >&2
	exit 1
fi
