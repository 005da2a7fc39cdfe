//go:build unix

package delivery

import (
	"errors"
	"syscall"
)

// pidAlive says whether a process with this id runs on this host.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
