package sasl

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/xdg-go/scram"
)

// scramServer is one SCRAM exchange. Kafka's messages are checked against
// the grammar of Kafka's ScramMessages first (ASCII names, "n" channel
// binding only, extensions), then xdg-go/scram's conversation does RFC
// 5802's arithmetic on the same bytes.
type scramServer struct {
	mechanism    ScramMechanism
	store        CredentialStore
	conversation *scram.ServerConversation
	// nonce overrides xdg-go/scram's server nonce, for tests with fixed
	// vectors.
	nonce func() string

	state        scramState
	user         string
	fullNonce    string
	serverResult Result
}

type scramState int

const (
	scramExpectClientFirst scramState = iota
	scramExpectClientFinal
	scramOver
)

// NewScramServer returns the server side of one SCRAM-SHA-256 or
// SCRAM-SHA-512 exchange, as Kafka's ScramSaslServer: client-first
// answered with server-first, client-final answered with server-final and
// done. Delegation tokens (the tokenauth=true extension) are refused.
func NewScramServer(mechanism ScramMechanism, store CredentialStore) (Server, error) {
	if _, known := mechanism.hash(); !known {
		return nil, ErrUnsupportedMechanism
	}
	return &scramServer{mechanism: mechanism, store: store}, nil
}

func (s *scramServer) Mechanism() string { return s.mechanism.String() }

func (s *scramServer) Result() Result { return s.serverResult }

func (s *scramServer) Step(clientMessage []byte) ([]byte, bool, error) {
	state := s.state
	s.state = scramOver // until a step succeeds
	switch state {
	case scramExpectClientFirst:
		serverFirst, err := s.clientFirst(clientMessage)
		if err != nil {
			return nil, false, err
		}
		s.state = scramExpectClientFinal
		return serverFirst, false, nil
	case scramExpectClientFinal:
		serverFinal, err := s.clientFinal(clientMessage)
		if err != nil {
			return nil, false, err
		}
		s.serverResult = Result{User: s.user}
		return serverFinal, true, nil
	}
	return nil, false, exchangeOver(s.Mechanism())
}

func (s *scramServer) fail(detail string) *AuthenticationError {
	return failure(s.Mechanism(), detail)
}

func (s *scramServer) clientFirst(message []byte) ([]byte, error) {
	first, err := parseScramClientFirst(message)
	if err != nil {
		return nil, s.fail("Invalid SCRAM client first message format: " + err.Error())
	}
	if strings.EqualFold(first.extensions["tokenauth"], "true") {
		return nil, s.fail("Token Authentication failed: delegation tokens are not supported")
	}

	credential, found, err := s.store.ScramCredential(s.mechanism, first.user)
	if err != nil {
		return nil, s.fail("Authentication failed: Credentials could not be obtained: " + err.Error())
	}
	if !found {
		return nil, s.fail("Authentication failed: Invalid user credentials: unknown user " + quoteForLog(first.user))
	}
	if first.authorizationID != "" && first.authorizationID != first.user {
		return nil, failureWithText(s.Mechanism(),
			"Authentication failed: Client requested an authorization id that is different from username",
			"authorization id "+quoteForLog(first.authorizationID)+" is not user "+quoteForLog(first.user))
	}
	if credential.Iterations < ScramMinIterations {
		return nil, s.fail("the credential of " + quoteForLog(first.user) + " has fewer iterations than the minimum 4096")
	}

	hash, _ := s.mechanism.hash()
	server, err := hash.NewServer(func(string) (scram.StoredCredentials, error) {
		return scram.StoredCredentials{
			KeyFactors: scram.KeyFactors{Salt: string(credential.Salt), Iters: credential.Iterations},
			StoredKey:  credential.StoredKey,
			ServerKey:  credential.ServerKey,
		}, nil
	})
	if err != nil {
		return nil, s.fail(err.Error())
	}
	if s.nonce != nil {
		server = server.WithNonceGenerator(s.nonce)
	}
	s.conversation = server.NewConversation()
	serverFirst, err := s.conversation.Step(string(message))
	if err != nil {
		return nil, s.fail("Invalid SCRAM client first message: " + err.Error())
	}
	s.user = first.user
	// The nonce is the first attribute of server-first: "r=<nonce>,s=...".
	s.fullNonce, _, _ = strings.Cut(strings.TrimPrefix(serverFirst, "r="), ",")
	return []byte(serverFirst), nil
}

func (s *scramServer) clientFinal(message []byte) ([]byte, error) {
	final, err := parseScramClientFinal(message)
	if err != nil {
		return nil, s.fail("Invalid SCRAM client final message format: " + err.Error())
	}
	if final.nonce != s.fullNonce {
		return nil, s.fail("Invalid client nonce in the final client message.")
	}
	serverFinal, err := s.conversation.Step(string(message))
	if err != nil || !s.conversation.Valid() {
		detail := "Invalid client credentials"
		if err != nil {
			detail += ": " + err.Error()
		}
		return nil, s.fail(detail + " of " + quoteForLog(s.user))
	}
	return []byte(serverFinal), nil
}

type scramClientFirst struct {
	authorizationID string
	user            string
	nonce           string
	extensions      map[string]string
}

var (
	errNotASCII       = errors.New("a byte outside 0x01..0x7F")
	errChannelBinding = errors.New("channel binding is not supported; only the gs2 header \"n\" is")
)

// parseScramClientFirst checks a client-first message against Kafka's
// pattern
//
//	n,[a=<saslname>],n=<saslname>,r=<printable>(,<alpha>=<value>)*
//
// where a saslname is ASCII with '=' only in "=2C" and "=3D". Kafka also lets
// a reserved "m=" attribute through and then ignores it, which would break
// the proof; it is refused here, as RFC 5802 asks of a server that does not
// know it.
func parseScramClientFirst(message []byte) (scramClientFirst, error) {
	if !isSaslASCII(message) {
		return scramClientFirst{}, errNotASCII
	}
	fields := strings.Split(string(message), ",")
	if len(fields) < 4 {
		return scramClientFirst{}, errors.New("too few attributes")
	}
	switch {
	case fields[0] == "n":
	case fields[0] == "y" || strings.HasPrefix(fields[0], "p="):
		return scramClientFirst{}, errChannelBinding
	default:
		return scramClientFirst{}, errors.New("bad gs2 header")
	}

	var first scramClientFirst
	if fields[1] != "" {
		encoded, isAuthorization := strings.CutPrefix(fields[1], "a=")
		name, valid := decodeSaslName(encoded)
		if !isAuthorization || !valid {
			return scramClientFirst{}, errors.New("bad authorization id")
		}
		first.authorizationID = name
	}
	if strings.HasPrefix(fields[2], "m=") {
		return scramClientFirst{}, errors.New("mandatory extensions are not supported")
	}
	encoded, isUser := strings.CutPrefix(fields[2], "n=")
	name, valid := decodeSaslName(encoded)
	if !isUser || !valid {
		return scramClientFirst{}, errors.New("bad user name")
	}
	first.user = name
	nonce, isNonce := strings.CutPrefix(fields[3], "r=")
	if !isNonce || !isPrintable(nonce) {
		return scramClientFirst{}, errors.New("bad nonce")
	}
	first.nonce = nonce
	extensions, err := parseScramExtensions(fields[4:])
	if err != nil {
		return scramClientFirst{}, err
	}
	first.extensions = extensions
	return first, nil
}

type scramClientFinal struct {
	nonce string
	proof []byte
}

// parseScramClientFinal checks a client-final message against Kafka's
// pattern
//
//	c=<base64>,r=<printable>(,<alpha>=<value>)*,p=<base64>
func parseScramClientFinal(message []byte) (scramClientFinal, error) {
	if !isSaslASCII(message) {
		return scramClientFinal{}, errNotASCII
	}
	fields := strings.Split(string(message), ",")
	if len(fields) < 3 {
		return scramClientFinal{}, errors.New("too few attributes")
	}
	channel, isChannel := strings.CutPrefix(fields[0], "c=")
	if !isChannel || !isBase64(channel) {
		return scramClientFinal{}, errors.New("bad channel binding attribute")
	}
	nonce, isNonce := strings.CutPrefix(fields[1], "r=")
	if !isNonce || !isPrintable(nonce) {
		return scramClientFinal{}, errors.New("bad nonce")
	}
	if _, err := parseScramExtensions(fields[2 : len(fields)-1]); err != nil {
		return scramClientFinal{}, err
	}
	encodedProof, isProof := strings.CutPrefix(fields[len(fields)-1], "p=")
	if !isProof || !isBase64(encodedProof) {
		return scramClientFinal{}, errors.New("bad proof")
	}
	proof, err := base64.StdEncoding.DecodeString(encodedProof)
	if err != nil {
		return scramClientFinal{}, errors.New("bad proof")
	}
	return scramClientFinal{nonce: nonce, proof: proof}, nil
}

// parseScramExtensions parses <alpha>=<value> attributes into a map the way
// Kafka's Utils.parseMap does: a repeated key keeps its last value.
func parseScramExtensions(fields []string) (map[string]string, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	extensions := make(map[string]string, len(fields))
	for _, field := range fields {
		key, value, hasValue := strings.Cut(field, "=")
		if !hasValue || !isAlpha(key) || value == "" {
			return nil, errors.New("bad extension")
		}
		extensions[key] = value
	}
	return extensions, nil
}

// decodeSaslName undoes RFC 5802's "=2C" and "=3D"; any other '=' is
// invalid, and so is an empty name.
func decodeSaslName(encoded string) (string, bool) {
	if encoded == "" {
		return "", false
	}
	var name strings.Builder
	for i := 0; i < len(encoded); i++ {
		if encoded[i] != '=' {
			name.WriteByte(encoded[i])
			continue
		}
		switch {
		case strings.HasPrefix(encoded[i:], "=2C"):
			name.WriteByte(',')
		case strings.HasPrefix(encoded[i:], "=3D"):
			name.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return name.String(), true
}

func isSaslASCII(message []byte) bool {
	for _, b := range message {
		if b == 0 || b > 0x7F {
			return false
		}
	}
	return true
}

// isPrintable is Kafka's PRINTABLE: one or more of 0x21..0x7E but ','.
func isPrintable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7E || s[i] == ',' {
			return false
		}
	}
	return true
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('a' <= s[i] && s[i] <= 'z' || 'A' <= s[i] && s[i] <= 'Z') {
			return false
		}
	}
	return true
}

// isBase64 is Kafka's BASE64: padded standard alphabet, possibly empty.
func isBase64(s string) bool {
	if len(s)%4 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '+', c == '/':
		case c == '=' && (i == len(s)-1 || i == len(s)-2 && s[len(s)-1] == '='):
		default:
			return false
		}
	}
	return true
}
