// Package deptest holds the test of the module's import graph: every package
// has a layer, and a package may import only packages of its own layer or
// below (commands → wiring → HTTP edges → workers → core → clients and
// store). Test-only packages (fakes, throwaway servers) are imported by tests
// alone. A new package fails the test until it is given a layer here.
package deptest
