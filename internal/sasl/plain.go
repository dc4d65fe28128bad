package sasl

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"strconv"
	"strings"
)

// PlainVerifier checks PLAIN user names and passwords. Implementations must
// be safe for concurrent use.
type PlainVerifier interface {
	// VerifyPlain reports whether password is user's password. An error
	// means the check could not be made (a store out of reach), not that
	// the password is wrong; it must not contain the password.
	VerifyPlain(user, password string) (bool, error)
}

// PlainUsers is the PlainVerifier Kafka's PlainServerCallbackHandler is:
// the user_<name>="<password>" options of the PlainLoginModule entries of the
// listener's sasl.jaas.config. Only digests of the passwords are kept.
type PlainUsers struct {
	passwords map[string][sha256.Size]byte
}

// NewPlainUsers takes the users from the entries whose login module is
// PlainLoginModule; other entries are ignored, as Kafka looks options up in
// PlainLoginModule's entries only. A user in two entries keeps the first
// entry's password, which is the one Kafka finds.
func NewPlainUsers(entries []JAASEntry) *PlainUsers {
	users := &PlainUsers{passwords: map[string][sha256.Size]byte{}}
	for _, entry := range entries {
		if entry.LoginModule != PlainLoginModule {
			continue
		}
		for key, password := range entry.Options {
			user, isUser := strings.CutPrefix(key, "user_")
			if !isUser {
				continue
			}
			if _, seen := users.passwords[user]; !seen {
				users.passwords[user] = sha256.Sum256([]byte(password))
			}
		}
	}
	return users
}

// VerifyPlain compares digests in constant time, so that neither the
// password's bytes nor its length show in the timing; an unknown user costs
// the same as a wrong password.
func (u *PlainUsers) VerifyPlain(user, password string) (bool, error) {
	given := sha256.Sum256([]byte(password))
	expected, known := u.passwords[user]
	if !known {
		// Compare against something all the same, to keep the time equal.
		expected = sha256.Sum256(nil)
		subtle.ConstantTimeCompare(given[:], expected[:])
		return false, nil
	}
	return subtle.ConstantTimeCompare(given[:], expected[:]) == 1, nil
}

type plainServer struct {
	verifier PlainVerifier
	over     bool
	result   Result
}

// NewPlainServer returns the server side of one PLAIN exchange (RFC 4616),
// as Kafka's PlainSaslServer: one client message, answered with nothing.
func NewPlainServer(verifier PlainVerifier) Server {
	return &plainServer{verifier: verifier}
}

func (s *plainServer) Mechanism() string { return MechanismPlain }

func (s *plainServer) Result() Result { return s.result }

// Step takes the one message [authzid] NUL authcid NUL passwd.
func (s *plainServer) Step(clientMessage []byte) ([]byte, bool, error) {
	if s.over {
		return nil, false, exchangeOver(MechanismPlain)
	}
	s.over = true

	authorizationID, user, password := splitPlain(clientMessage)
	if user == "" {
		return nil, false, failure(MechanismPlain, "Authentication failed: username not specified")
	}
	if password == "" {
		return nil, false, failure(MechanismPlain, "Authentication failed: password not specified")
	}
	valid, err := s.verifier.VerifyPlain(user, password)
	if err != nil {
		return nil, false, failureWithText(MechanismPlain,
			"Authentication failed: credentials for user could not be verified",
			"verifying the password of "+quoteForLog(user)+": "+err.Error())
	}
	if !valid {
		return nil, false, failureWithText(MechanismPlain,
			"Authentication failed: Invalid username or password",
			"wrong password or unknown user "+quoteForLog(user))
	}
	if authorizationID != "" && authorizationID != user {
		return nil, false, failureWithText(MechanismPlain,
			"Authentication failed: Client requested an authorization id that is different from username",
			"authorization id "+quoteForLog(authorizationID)+" is not user "+quoteForLog(user))
	}
	s.result = Result{User: user}
	return []byte{}, true, nil
}

// splitPlain splits the message as PlainSaslServer.split does: into exactly
// three parts at NUL, a missing part empty, and whatever follows a third NUL
// dropped. Invalid UTF-8 becomes U+FFFD, as Java's decoding makes it.
func splitPlain(message []byte) (authorizationID, user, password string) {
	var parts [3]string
	rest := message
	for i := range parts {
		end := bytes.IndexByte(rest, 0)
		if end < 0 {
			parts[i] = toValidText(rest)
			break
		}
		parts[i] = toValidText(rest[:end])
		rest = rest[end+1:]
	}
	return parts[0], parts[1], parts[2]
}

func toValidText(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// quoteForLog quotes a client-chosen name for a log line, cut short so a
// client cannot fill the log.
func quoteForLog(name string) string {
	const limit = 256
	if len(name) > limit {
		name = name[:limit] + "..."
	}
	return strconv.Quote(name)
}
