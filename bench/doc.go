// Package bench compares authkit with the libraries it replaces, side by
// side, in one process and on the same inputs. See run.sh and
// docs/BENCHMARKS.md at the repository root.
package bench
