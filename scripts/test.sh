#!/usr/bin/env bash
# floodgate's test command (README, CI): works on a fresh Debian machine with
# Go. Installs redis-server, redis-cli and redis-sentinel when missing (the
# Redis tests start standalone servers, a 3-master Cluster and a Sentinel
# setup of their own), and Debian's prometheus package for promtool and
# prometheus (the alert rules' checks and unit tests, and a test that
# scrapes a starter bot with a real Prometheus). Then it checks formatting,
# runs go vet and the race-enabled tests over the whole module, and runs
# every benchmark once so none rots, the bench/ module's included.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

missing=()
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1 ||
  ! command -v redis-sentinel >/dev/null 2>&1; then
  missing+=(redis-server redis-tools redis-sentinel)
fi
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  missing+=(prometheus)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]} with apt-get"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Tests start their own redis-server and prometheus processes on free
# loopback ports; a system Redis on 6379, Sentinel on 26379 or Prometheus on
# 9090 (the Debian packages start them where they can), if any, is neither
# needed nor touched.

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# internal/e2e (the starter bots and the demo run as processes, several at once, and copied
# into modules of their own) runs on its own, after the rest, so that a dozen
# bot processes and their builds do not share the CPUs with the wall-clock
# tests of other packages.
go test -race -count=1 -shuffle=on -timeout=15m $(go list ./... | grep -v '/internal/e2e$')
go test -count=1 -shuffle=on -timeout=15m ./internal/e2e/
bench_log=$(mktemp)
if ! go test -run='^$' -bench=. -benchtime=1x -timeout=10m ./... >"$bench_log" 2>&1; then
  cat "$bench_log"; echo "scripts/test.sh: a benchmark failed"; exit 1
fi
rm -f "$bench_log"
# The side-by-side harness is a module of its own (bench/go.mod), which the
# root's ./... does not enter: vet it, run its tests (the ratio printer's)
# and each of its benchmarks once. With FLOODGATE_BENCH_REDIS unset, its
# Redis benchmarks start their own redis-server.
bench_log=$(mktemp)
if ! (cd bench && unset FLOODGATE_BENCH_REDIS && go vet ./... && go test -count=1 -bench=. -benchtime=1x -timeout=15m ./...) >"$bench_log" 2>&1; then
  cat "$bench_log"; echo "scripts/test.sh: the bench module failed"; exit 1
fi
rm -f "$bench_log"
echo "scripts/test.sh: all checks passed"
