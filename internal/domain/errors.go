// Package domain holds daestro's own vocabulary: the types and error codes
// that every layer shares, so there is one copy of each concept.
package domain

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes, mapped to HTTP statuses in exactly one place (HTTPStatus),
// which the API and the console both answer with.
const (
	EINVALID      = "invalid"      // the request breaks a rule; the message says which
	ENOTFOUND     = "not_found"    // the resource does not exist in the caller's project
	ECONFLICT     = "conflict"     // the request clashes with current state (name taken, still in use)
	EUNAUTHORIZED = "unauthorized" // no or bad credentials
	EUNAVAILABLE  = "unavailable"  // a dependency (Temporal, a cloud) is not reachable right now
	ETOOMANY      = "too_many"     // the caller holds as much of a bounded resource as it may
	EGONE         = "gone"         // the resource existed but was deleted for good (logs past their retention)
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// HTTPStatus is the HTTP status an error's code answers with.
func HTTPStatus(err error) int {
	switch ErrorCode(err) {
	case EINVALID:
		return http.StatusBadRequest
	case ENOTFOUND:
		return http.StatusNotFound
	case ECONFLICT:
		return http.StatusConflict
	case EUNAUTHORIZED:
		return http.StatusUnauthorized
	case EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case ETOOMANY:
		return http.StatusTooManyRequests
	case EGONE:
		return http.StatusGone
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error with a code and a message written for the user.
type Error struct {
	// Code is one of the E* constants.
	Code string
	// Message is a sentence the user can act on.
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL when it carries none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; internal errors get a
// generic sentence so no implementation detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error; the server log has the details"
}
