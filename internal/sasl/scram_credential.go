package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/xdg-go/scram"
)

// ScramMechanism is SCRAM-SHA-256 or SCRAM-SHA-512. The numbers are Kafka's
// (ScramMechanism.type()), which UserScramCredentialRecord and
// AlterUserScramCredentials carry on the wire.
type ScramMechanism int8

const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// The iteration bounds Kafka's ScramMechanism sets for both hashes, and the
// count kafka-configs.sh uses when none is given.
const (
	ScramMinIterations     = 4096
	ScramMaxIterations     = 16384
	ScramDefaultIterations = 4096
)

// String returns the mechanism name, e.g. "SCRAM-SHA-256".
func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return MechanismScramSHA256
	case ScramSHA512:
		return MechanismScramSHA512
	}
	return fmt.Sprintf("SCRAM-UNKNOWN(%d)", int8(m))
}

// ScramMechanismByName returns the mechanism a name stands for.
func ScramMechanismByName(name string) (ScramMechanism, bool) {
	switch name {
	case MechanismScramSHA256:
		return ScramSHA256, true
	case MechanismScramSHA512:
		return ScramSHA512, true
	}
	return 0, false
}

func (m ScramMechanism) hash() (scram.HashGeneratorFcn, bool) {
	switch m {
	case ScramSHA256:
		return scram.SHA256, true
	case ScramSHA512:
		return scram.SHA512, true
	}
	return nil, false
}

// ScramCredential is what a server keeps of a SCRAM password (RFC 5802
// section 3): never the password, nor the salted password.
type ScramCredential struct {
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int
}

// ErrUnacceptableCredential is matched by the errors of the credential
// constructors; AlterUserScramCredentials answers it with Kafka's
// UNACCEPTABLE_CREDENTIAL.
var ErrUnacceptableCredential = errors.New("sasl: unacceptable credential")

func checkIterations(iterations int) error {
	if iterations < ScramMinIterations {
		return fmt.Errorf("%w: Too few iterations", ErrUnacceptableCredential)
	}
	if iterations > ScramMaxIterations {
		return fmt.Errorf("%w: Too many iterations", ErrUnacceptableCredential)
	}
	return nil
}

// NewScramCredential makes a credential from a password with a random
// 32-byte salt, as kafka-configs.sh --add-config 'SCRAM-SHA-256=[...]' does.
// iterations 0 means ScramDefaultIterations; otherwise it must lie within
// Kafka's bounds. The password is used as its UTF-8 bytes, without SASLprep,
// as Kafka's ScramFormatter.normalize does.
func NewScramCredential(mechanism ScramMechanism, password string, iterations int) (ScramCredential, error) {
	hash, known := mechanism.hash()
	if !known {
		return ScramCredential{}, fmt.Errorf("%w: unknown mechanism %v", ErrUnacceptableCredential, mechanism)
	}
	if iterations == 0 {
		iterations = ScramDefaultIterations
	}
	if err := checkIterations(iterations); err != nil {
		return ScramCredential{}, err
	}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return ScramCredential{}, fmt.Errorf("sasl: making a salt: %w", err)
	}
	client, err := hash.NewClientUnprepped("", password, "")
	if err != nil {
		return ScramCredential{}, fmt.Errorf("sasl: %w", err)
	}
	stored, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iterations})
	if err != nil {
		return ScramCredential{}, fmt.Errorf("sasl: deriving the keys: %w", err)
	}
	return ScramCredential{Salt: salt, StoredKey: stored.StoredKey, ServerKey: stored.ServerKey, Iterations: iterations}, nil
}

// ScramCredentialFromSaltedPassword makes the credential an
// AlterUserScramCredentials upsertion describes: the client sends the salt
// and SaltedPassword = Hi(password, salt, iterations), and the controller
// derives StoredKey = H(HMAC(SaltedPassword, "Client Key")) and ServerKey =
// HMAC(SaltedPassword, "Server Key") as Kafka's ScramFormatter does.
func ScramCredentialFromSaltedPassword(mechanism ScramMechanism, salt, saltedPassword []byte, iterations int) (ScramCredential, error) {
	hash, known := mechanism.hash()
	if !known {
		return ScramCredential{}, fmt.Errorf("%w: unknown mechanism %v", ErrUnacceptableCredential, mechanism)
	}
	if err := checkIterations(iterations); err != nil {
		return ScramCredential{}, err
	}
	if len(salt) == 0 {
		return ScramCredential{}, fmt.Errorf("%w: empty salt", ErrUnacceptableCredential)
	}
	if len(saltedPassword) == 0 {
		return ScramCredential{}, fmt.Errorf("%w: empty salted password", ErrUnacceptableCredential)
	}
	keyed := func(message string) []byte {
		mac := hmac.New(hash, saltedPassword)
		mac.Write([]byte(message))
		return mac.Sum(nil)
	}
	digest := hash()
	digest.Write(keyed("Client Key"))
	return ScramCredential{
		Salt:       append([]byte(nil), salt...),
		StoredKey:  digest.Sum(nil),
		ServerKey:  keyed("Server Key"),
		Iterations: iterations,
	}, nil
}

// CredentialStore looks SCRAM credentials up; in a broker they come from
// the UserScramCredentialRecords of the metadata log.
type CredentialStore interface {
	// ScramCredential returns user's credential for mechanism, found false
	// if user has none. An error means the lookup could not be made. It
	// must be safe for concurrent use, and the caller does not modify what
	// it returns.
	ScramCredential(mechanism ScramMechanism, user string) (credential ScramCredential, found bool, err error)
}

// MemoryCredentialStore is a CredentialStore in a map, safe for concurrent
// use.
type MemoryCredentialStore struct {
	mu          sync.RWMutex
	credentials map[memoryCredentialKey]ScramCredential
}

type memoryCredentialKey struct {
	mechanism ScramMechanism
	user      string
}

// NewMemoryCredentialStore returns an empty store.
func NewMemoryCredentialStore() *MemoryCredentialStore {
	return &MemoryCredentialStore{credentials: map[memoryCredentialKey]ScramCredential{}}
}

// Set stores user's credential for mechanism, replacing any before it.
func (s *MemoryCredentialStore) Set(mechanism ScramMechanism, user string, credential ScramCredential) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.credentials[memoryCredentialKey{mechanism, user}] = credential
}

// Delete removes user's credential for mechanism.
func (s *MemoryCredentialStore) Delete(mechanism ScramMechanism, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.credentials, memoryCredentialKey{mechanism, user})
}

// ScramCredential implements CredentialStore.
func (s *MemoryCredentialStore) ScramCredential(mechanism ScramMechanism, user string) (ScramCredential, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	credential, found := s.credentials[memoryCredentialKey{mechanism, user}]
	return credential, found, nil
}
