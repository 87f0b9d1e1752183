# Shortcuts for the repository's scripts.
.PHONY: test bench

# gofmt, go vet, the race-enabled tests and every benchmark once (CI runs this).
test:
	./scripts/test.sh

# floodgate beside other Go rate limiters (docs/performance.md). COUNT=5 and
# BENCHTIME=500ms by default: `make bench COUNT=1` for a quick look.
bench:
	COUNT=$(or $(COUNT),5) BENCHTIME=$(or $(BENCHTIME),500ms) ./scripts/bench.sh
