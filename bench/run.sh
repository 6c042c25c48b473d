#!/usr/bin/env bash
# run.sh runs authkit's benchmarks against its peers and against the floors
# (the bare operation each feature wraps), and writes docs/BENCHMARKS.md.
#
#   bench/run.sh              one run: benchmarks (10 interleaved rounds), the
#                             memory store at 1k and 1M sessions, throughput
#                             under 64 clients; then the load-and-fault run
#                             (an in-process server, then examples/demo); the
#                             sign-in throttling simulation runs in every mode
#   bench/run.sh -runs 3      the worst-of-three mode: three independent runs of
#                             everything in the first part (4 rounds each by
#                             default); every target is judged on its worst run,
#                             and the report shows each run's ratio and the spread
#   bench/run.sh -scale       ... plus the scale table (slow: up to a million
#                             sessions on memory and on a private Redis)
#   bench/run.sh -no-load     ... without the load-and-fault run
#   bench/run.sh -quick       2 rounds, short benchtime, small stores, no load
#                             run: a smoke test that writes its report to a
#                             temporary file and prints the targets table
#
# Environment:
#   AUTHKIT_REDIS_ADDR   Redis for the Redis benchmarks (skipped when unset).
#                        The scale and fault runs start their own redis-server on
#                        a free loopback port and never touch this one.
#   ROUNDS               benchmark rounds per run (default 10, or 4 with -runs
#                        N > 1); each round runs every benchmark once, so each
#                        side gets ROUNDS samples per run and authkit, its peers
#                        and the floors are interleaved in time.
#   BENCHTIME            -test.benchtime of the fast benchmarks (default 0.5s).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
out="$here/../docs/BENCHMARKS.md"
runs=1
benchtime=${BENCHTIME:-0.5s}
scale=0 load=1 quick=0
cmdline="bench/run.sh"
while [ $# -gt 0 ]; do
	case "$1" in
	-scale) scale=1; cmdline+=" -scale" ;;
	-no-load) load=0; cmdline+=" -no-load" ;;
	-quick) quick=1 benchtime=0.05s load=0 ;;
	-runs)
		[ $# -ge 2 ] && [ "$2" -ge 1 ] 2>/dev/null || { echo "-runs needs a positive count" >&2; exit 2; }
		runs=$2; cmdline+=" -runs $2"; shift ;;
	*) echo "usage: $0 [-runs N] [-scale] [-no-load] [-quick]" >&2; exit 2 ;;
	esac
	shift
done
if [ -n "${ROUNDS:-}" ]; then
	rounds=$ROUNDS
elif [ "$quick" = 1 ]; then
	rounds=2
elif [ "$runs" -gt 1 ]; then
	rounds=4
else
	rounds=10
fi
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
trips="$tmp/roundtrips.md"

echo "== vet, the cross-check test, the one-read test and the round-trip count"
go vet ./...
go test -c -o "$tmp/bench.test" .
go build -o "$tmp/scale" ./cmd/scale
go build -o "$tmp/throughput" ./cmd/throughput
AUTHKIT_BENCH_ROUNDTRIPS="$trips" "$tmp/bench.test" -test.run '^(TestArgon2idCrossCheck|TestOneStoreReadPerLoad|TestRoundTrips)$' -test.v | grep -E '^(---|PASS|FAIL|ok)'

if [ -n "${AUTHKIT_REDIS_ADDR:-}" ]; then
	redis_note="Redis benchmarks ran against AUTHKIT_REDIS_ADDR=$AUTHKIT_REDIS_ADDR ($(redis-cli -u "redis://$AUTHKIT_REDIS_ADDR" INFO server 2>/dev/null | tr -d '\r' | grep '^redis_version:' | sed 's/redis_version:/Redis /' || echo Redis)), under a random key prefix removed afterwards."
else
	redis_note="**Skipped in this run: AUTHKIT_REDIS_ADDR is not set.** Set it (for example to 127.0.0.1:6379) to include them."
	echo "AUTHKIT_REDIS_ADDR is not set: skipping the Redis benchmarks"
fi

scale_floor_args=() throughput_args=()
if [ "$quick" = 1 ]; then
	scale_floor_args=(-sizes 1000,100000 -rounds 1 -benchtime 100ms)
	throughput_args=(-rounds 1 -duration 300ms -warmup 100ms)
fi

# one_run writes one independent run to $1: every benchmark once per round
# (-test.count=1), so the samples of authkit, its peers and the floors are
# spread over the whole run; then the memory store at 1k and 1M sessions and
# the throughput run, each with interleaved rounds of its own.
bench() { # output pattern benchtime
	echo "./bench.test -test.run '^\$' -test.bench '$2' -test.benchtime $3 -test.benchmem -test.count 1" >>"$details.round"
	"$tmp/bench.test" -test.run '^$' -test.bench "$2" -test.benchtime "$3" -test.benchmem -test.count 1 >>"$1"
}
one_run() { # output label
	for i in $(seq 1 "$rounds"); do
		echo "== $2round $i of $rounds"
		: >"$details.round"
		bench "$1" '^Benchmark(Harness|SessionRead|SessionWrite|CookieSealOpen|CookieFloor|JWTVerify|JWTFloor|Require|RedisSessionLoad|RedisTokenVerify)$' "$benchtime"
		bench "$1" '^BenchmarkJWTSign$/alg=(HS256|ES256|EdDSA)$' "$benchtime"
		if [ "$quick" = 1 ]; then
			bench "$1" '^BenchmarkJWTSign$/alg=RS256$' 10x
			bench "$1" '^BenchmarkArgon2idVerify$' 2x
		else
			bench "$1" '^BenchmarkJWTSign$/alg=RS256$' 200x
			bench "$1" '^BenchmarkArgon2idVerify$' 10x
		fi
	done
	echo "== $2memory store at 1k and 1M sessions"
	"$tmp/scale" -floor "${scale_floor_args[@]}" >>"$1"
	echo "== $2throughput under concurrency"
	"$tmp/throughput" "${throughput_args[@]}" >>"$1"
}

run_files=()
if [ "$runs" -gt 1 ]; then
	echo "# in bench/: go test -c -o bench.test . && AUTHKIT_BENCH_ROUNDTRIPS=roundtrips.md ./bench.test -test.run '^(TestArgon2idCrossCheck|TestOneStoreReadPerLoad|TestRoundTrips)$'; then $runs independent runs, one after the other, each of $rounds rounds of:" >"$details"
else
	echo "# in bench/: go test -c -o bench.test . && AUTHKIT_BENCH_ROUNDTRIPS=roundtrips.md ./bench.test -test.run '^(TestArgon2idCrossCheck|TestOneStoreReadPerLoad|TestRoundTrips)$'; then $rounds rounds of:" >"$details"
fi
for r in $(seq 1 "$runs"); do
	f="$tmp/run$r.txt"
	label=""
	[ "$runs" -gt 1 ] && label="run $r of $runs, "
	one_run "$f" "$label"
	cat "$f" >>"$raw"
	run_files+=("$f")
done
cat "$details.round" >>"$details"
rm -f "$details.round"
echo "# and after the rounds, in each run:" >>"$details"
echo "go run ./cmd/scale -floor ${scale_floor_args[*]}" >>"$details"
echo "go run ./cmd/throughput ${throughput_args[*]}" >>"$details"

# The sections of a full run are kept in results/ with the raw output.
sections="$here/results"
[ "$quick" = 1 ] && sections="$tmp"
scale_md="" load_md="" load_status="" signin_md=""
if [ "$scale" = 1 ]; then
	echo "== scale (slow)"
	echo "go run ./cmd/scale -md scale.md" >>"$details"
	"$tmp/scale" -md "$sections/scale.md"
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
runs_arg=""
if [ "$quick" = 1 ]; then
	out="$tmp/BENCHMARKS.md"
else
	cp "$raw" results/latest.txt
	cp "$trips" results/roundtrips.md
	rm -f results/latest-run*.txt
	if [ "$runs" -gt 1 ]; then
		for r in $(seq 1 "$runs"); do cp "$tmp/run$r.txt" "results/latest-run$r.txt"; done
	fi
fi
if [ "$runs" -gt 1 ]; then
	runs_arg=$(IFS=,; echo "${run_files[*]}")
fi
go run ./cmd/benchreport -raw "$raw" -runs "$runs_arg" -out "$out" -command "$cmdline" -details "$details" \
	-roundtrips "$trips" -roundtrips-base results/roundtrips-baseline.md \
	-scale "$scale_md" -load "$load_md" -signin "$signin_md" -load-status "$load_status" -redis "$redis_note" \
	-loadavg "$load_start at the start, $load_end at the end" -started "$started"
if [ "$quick" = 1 ]; then
	sed -n "/^## Targets/,/^## Sessions through/p" "$out"
else
	echo "wrote $out (raw benchmark output: bench/results/latest.txt)"
fi
if [ -n "$load_status" ] && [ "$load_status" != 0 ]; then
	echo "the load-and-fault run reported failed checks" >&2
	exit 1
fi
