//go:build !unix

package delivery

// pidAlive cannot tell here: a hub of this host is judged by its heartbeat.
func pidAlive(pid int) bool { return true }
