// Package bench holds the benchmarks behind the figures the issues ask for.
// Each runs a fixed amount of work on a fresh database of the shared test
// server and prints its figures; run them with `make bench`, which passes
// -benchtime 1x (one run of the fixed work).
//
// Comparisons (Powny against plain River) run side by side in one process on
// one database with the same River fetch settings, since absolute timings on
// shared machines are noisy.
package bench
