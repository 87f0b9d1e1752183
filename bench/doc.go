// Package bench compares floodgate's stores with other Go rate limiters,
// side by side, in one run on one machine. It holds only benchmarks (in its
// _test.go files); run them with `make bench` at the repository root, which
// also prints benchstat tables and the ratios the project targets.
//
// It is a module of its own (github.com/floodgate-go/floodgate/bench) so
// that the libraries it measures floodgate against never enter floodgate's
// go.mod. docs/performance.md says what each contender and shape means and
// which choices keep the comparison fair.
package bench
