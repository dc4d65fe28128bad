package api

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// errorCode maps an error from a subsystem to a Kafka error code: a
// *kerr.Error keeps its code, a timeout becomes REQUEST_TIMED_OUT, and
// anything else is UNKNOWN_SERVER_ERROR.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return kerr.RequestTimedOut.Code
	}
	return kerr.UnknownServerError.Code
}

// errorMessage is the message to send with err: nil for none, or for a
// bare Kafka error, whose code says it all.
func errorMessage(err error) *string {
	var ke *kerr.Error
	if err == nil || (errors.As(err, &ke) && err.Error() == ke.Error()) {
		return nil
	}
	s := err.Error()
	return &s
}
