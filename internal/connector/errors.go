package connector

import (
	"errors"
	"fmt"
)

// Kinds of failure every client reports; test with errors.Is.
var (
	ErrUnreachable  = errors.New("service unreachable")
	ErrTimeout      = errors.New("service did not answer in time")
	ErrAuth         = errors.New("authentication failed")
	ErrIncompatible = errors.New("incompatible service version")
	ErrMalformed    = errors.New("malformed response")
)

// ServiceError is an error the service itself returned. It keeps the
// service's own message. errors.Is(err, ErrAuth) holds for 401 and 403.
type ServiceError struct {
	// Status is the HTTP status (200 for errors inside a 200 envelope, as
	// Odoo's JSON-RPC sends them).
	Status int
	// Code is the service's error code or name, e.g. Mattermost's id
	// "api.context.session_expired.app_error" or Odoo's
	// "odoo.exceptions.AccessDenied".
	Code string
	// Message is the service's human-readable message.
	Message string
	// Auth marks an authentication failure not visible in Status (Odoo).
	Auth bool
}

func (e *ServiceError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	if e.Code != "" {
		return fmt.Sprintf("service answered %d (%s): %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("service answered %d: %s", e.Status, msg)
}

// Is makes errors.Is(err, ErrAuth) true for authentication failures.
func (e *ServiceError) Is(target error) bool {
	return target == ErrAuth && (e.Auth || e.Status == 401 || e.Status == 403)
}

// Incompatible returns an ErrIncompatible error naming the found and the
// minimum version.
func Incompatible(service, found, need string) error {
	return fmt.Errorf("%w: %s %s is not supported (need %s)", ErrIncompatible, service, found, need)
}

// Malformed returns an ErrMalformed error with detail.
func Malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
