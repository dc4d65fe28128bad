package sasl

import (
	"errors"
	"fmt"
	"time"
)

// The mechanism names, as clients send them in SaslHandshake and as
// sasl.enabled.mechanisms lists them.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	MechanismOAuthBearer = "OAUTHBEARER"
)

// Server is the server side of one SASL exchange on one connection. It is
// not safe for concurrent use: a connection steps its exchange from one
// goroutine.
type Server interface {
	// Mechanism returns the mechanism name, e.g. "SCRAM-SHA-256".
	Mechanism() string

	// Step consumes the client's next message (the auth_bytes of a
	// SaslAuthenticate request, or the next token of a v0 handshake) and
	// returns the bytes to answer with. done is true when the exchange
	// succeeded; Result is then valid, and serverMessage still has to be
	// sent (SCRAM's server-final message, empty for PLAIN and OAUTHBEARER).
	//
	// A non-nil error ends the exchange: it is an *AuthenticationError,
	// whose text may be sent to the client as the SaslAuthenticate
	// error_message. Step never panics on any input, and after an error or
	// after done every further Step fails.
	Step(clientMessage []byte) (serverMessage []byte, done bool, err error)

	// Result returns the outcome of a completed exchange; before then it is
	// the zero Result.
	Result() Result
}

// Result is who a completed exchange authenticated.
type Result struct {
	// User is the authorization id: the PLAIN or SCRAM user name, or the
	// OAUTHBEARER token's subject.
	User string

	// Expiry is when the credential stops being valid, the token's exp for
	// OAUTHBEARER; zero when the credential does not expire (PLAIN and
	// SCRAM). A broker enforcing connections.max.reauth.ms (KIP-368) uses
	// the earlier of now+connections.max.reauth.ms and Expiry as the
	// session lifetime.
	Expiry time.Time

	// Scopes are an OAUTHBEARER token's scopes, trimmed, in the token's
	// order.
	Scopes []string

	// Extensions are the SASL extensions the client sent and the server
	// accepted: OAUTHBEARER's key=value pairs (Kafka's validator accepts
	// all of them). Nil when there were none.
	Extensions map[string]string
}

// Principal returns the Kafka principal, "User:<name>", as Kafka's
// DefaultKafkaPrincipalBuilder makes it for every mechanism but GSSAPI.
func (r Result) Principal() string {
	return "User:" + r.User
}

// AuthenticationError is a failed exchange. Its Error text is the message
// Kafka sends the client for the same failure, so it can go into the
// SaslAuthenticate response as it is: either the mechanism's own safe text
// ("Authentication failed: Invalid username or password") or, where Kafka's
// mechanism raised a plain SaslException, Kafka's generic text that names
// only the mechanism. Detail says what really happened, for the broker's
// log; neither ever holds a password, a salted password, a key or a token.
type AuthenticationError struct {
	// Mechanism is the mechanism of the exchange.
	Mechanism string
	// ClientText is the mechanism's own message for the client; empty when
	// Kafka sends its generic text instead.
	ClientText string
	// Detail is the reason, for logs only: it may name the user.
	Detail string
}

// Error returns the text to send to the client, for a first authentication.
func (e *AuthenticationError) Error() string {
	return e.ClientMessage(false)
}

// ClientMessage returns the text Kafka's SaslServerAuthenticator sends for
// this failure; reauthentication selects the wording it uses while a
// connection re-authenticates (KIP-368).
func (e *AuthenticationError) ClientMessage(reauthentication bool) string {
	if e.ClientText != "" {
		return e.ClientText
	}
	phase := "authentication"
	if reauthentication {
		phase = "re-authentication"
	}
	return fmt.Sprintf("Authentication failed during %s due to invalid credentials with SASL mechanism %s", phase, e.Mechanism)
}

// Is lets errors.Is(err, ErrAuthenticationFailed) match every
// AuthenticationError.
func (e *AuthenticationError) Is(target error) bool {
	return target == ErrAuthenticationFailed
}

var (
	// ErrAuthenticationFailed matches, with errors.Is, every error Step
	// returns.
	ErrAuthenticationFailed = errors.New("sasl: authentication failed")

	// ErrUnsupportedMechanism is returned by Authenticator.NewServer for a
	// mechanism that is not enabled; the broker answers the handshake with
	// UNSUPPORTED_SASL_MECHANISM and the enabled list.
	ErrUnsupportedMechanism = errors.New("sasl: unsupported mechanism")
)

// failure makes the error for a failure Kafka reports with its generic text
// (a SaslException in Kafka's mechanism).
func failure(mechanism, detail string) *AuthenticationError {
	return &AuthenticationError{Mechanism: mechanism, Detail: detail}
}

// failureWithText makes the error for a failure whose message Kafka sends to
// the client (a SaslAuthenticationException in Kafka's mechanism).
func failureWithText(mechanism, clientText, detail string) *AuthenticationError {
	return &AuthenticationError{Mechanism: mechanism, ClientText: clientText, Detail: detail}
}

// exchangeOver is the error for a Step after the exchange ended; Kafka
// raises IllegalSaslStateException there.
func exchangeOver(mechanism string) *AuthenticationError {
	return failure(mechanism, "client message after the exchange ended")
}
