#!/usr/bin/env bash
# floodgate's side-by-side benchmarks (`make bench`; docs/performance.md):
# starts one redis-server on a free loopback port (no persistence), runs
# every benchmark of the bench/ module against it -count times, saves the
# raw output in bench/results/, and prints benchstat tables with one column
# per contender, then the ratios issue 6 sets as targets.
#
# Environment: COUNT (default 5), BENCHTIME (go test -benchtime, default
# 500ms: a full run then takes about 6 to 10 minutes on 2 vCPUs), BENCH (the -bench pattern, default "."), FLOODGATE_BENCH_REDIS
# (host:port of a Redis to use instead of starting one).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-500ms}
BENCH=${BENCH:-.}
# The version of golang.org/x/perf whose benchstat is used when none is
# installed in $(go env GOPATH)/bin.
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da

if [ -z "${FLOODGATE_BENCH_REDIS:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "scripts/bench.sh: installing redis-server and redis-tools with apt-get"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
  fi
  redis_dir=$(mktemp -d)
  redis_pid=""
  cleanup() {
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$redis_dir"
  }
  trap cleanup EXIT
  for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi # taken
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --daemonize no --dir "$redis_dir" --logfile "$redis_dir/redis.log" &
    redis_pid=$!
    for _ in $(seq 100); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.05
    done
    if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
    kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true
    redis_pid=""
  done
  if [ -z "$redis_pid" ]; then
    echo "scripts/bench.sh: could not start redis-server"; cat "$redis_dir/redis.log" || true; exit 1
  fi
  export FLOODGATE_BENCH_REDIS="127.0.0.1:$port"
fi

mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ).txt"
redis_version=$(redis-cli -u "redis://$FLOODGATE_BENCH_REDIS" info server 2>/dev/null | tr -d '\r' |
  sed -n 's/^redis_version://p')
{
  # Configuration lines benchstat shows above its tables.
  echo "machine: $(nproc) vCPU, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "go: $(go env GOVERSION)"
  echo "redis: ${redis_version:-unknown} at $FLOODGATE_BENCH_REDIS"
  echo "benchtime: $BENCHTIME"
} >"$out"
echo "scripts/bench.sh: COUNT=$COUNT BENCHTIME=$BENCHTIME, Redis at $FLOODGATE_BENCH_REDIS; raw output: $out"
(cd bench && go test -run '^$' -bench "$BENCH" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" -timeout 60m .) |
  tee -a "$out"

benchstat="$(go env GOPATH)/bin/benchstat"
if [ ! -x "$benchstat" ]; then
  benchstat="go run golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
fi
echo
grep -E '^[a-z]+: ' "$out" # the run's configuration, once
# One table set per benchmark, one column per contender, the first
# (floodgate) as the base the others are compared with. benchstat wants 6
# samples (COUNT=6) for its ± intervals; fewer still print.
for table in \
  "Redis|.name:Redis" \
  "Memory|.name:Memory" \
  "B/key|.name:(MemoryPerKey OR RedisPerKey) .unit:B/key" \
  "Paired|.name:Paired .unit:ratio"; do
  title=${table%%|*}
  filter=${table#*|}
  col="-col /contender"
  [ "$title" = "Paired" ] && col=""
  echo
  echo "== $title: benchstat -filter '$filter' $col"
  $benchstat -filter "$filter" $col "$out" | sed '/^[a-z]*: /d'
done
echo
(cd bench && go run ./cmd/ratios "../$out")
