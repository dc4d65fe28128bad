package quorum

import "github.com/twmb/franz-go/pkg/kerr"

// Error is a Kafka error with the message Kafka's controller gives for it:
// errors.As finds Code through Unwrap, and Error is the message alone, so a
// handler answers with the code and exactly this text.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Code }

// Limits of one user operation, as in Kafka's controller
// (QuorumController.MAX_RECORDS_PER_USER_OP and
// ReplicationControlManager.MAX_PARTITIONS_PER_BATCH, both 10,000): one
// CreateTopics or CreatePartitions request may create at most
// MaxPartitionsPerRequest partitions in total. Bigger requests are refused
// before anything is placed, proposed or created on disk.
const MaxPartitionsPerRequest = 10_000

// Kafka's messages for requests over the limit: CreateTopics'
// (validateTotalNumberOfPartitions) and the one its controller gives any
// other operation whose records exceed MAX_RECORDS_PER_USER_OP
// (EventHandlerExceptionInfo for BoundedListTooLongException).
const (
	TooManyPartitionsMessage = "Excessively large number of partitions per request."
	TooLargeBatchMessage     = "Unable to perform excessively large batch operation."
)

// ErrTooManyPartitions is CreateTopics' answer to a request over
// MaxPartitionsPerRequest; ErrTooLargeBatch is CreatePartitions'.
var (
	ErrTooManyPartitions = &Error{Code: kerr.PolicyViolation, Message: TooManyPartitionsMessage}
	ErrTooLargeBatch     = &Error{Code: kerr.PolicyViolation, Message: TooLargeBatchMessage}
)
