package sasl

import (
	"bytes"
	"errors"
	"strings"
	"time"
)

// Token is a validated OAUTHBEARER access token.
type Token struct {
	// Principal is the subject claim (sasl.oauthbearer.sub.claim.name),
	// trimmed.
	Principal string
	// Scopes are the scope claim's values (sasl.oauthbearer.scope.claim.name),
	// trimmed; empty if the token has none.
	Scopes []string
	// Expiry is the exp claim.
	Expiry time.Time
	// IssuedAt is the iat claim.
	IssuedAt time.Time
}

// TokenValidator validates OAUTHBEARER tokens; *JWTValidator is Kafka's
// BrokerJwtValidator. Implementations must be safe for concurrent use.
type TokenValidator interface {
	// Validate returns the token's principal and lifetime, or an error
	// saying why the token is refused. The error is logged, never sent to
	// the client, and must not contain the token.
	Validate(token string) (Token, error)
}

// InitialResponse is a parsed OAUTHBEARER client initial response (RFC 7628
// section 3.1), as Kafka's OAuthBearerClientInitialResponse reads it.
type InitialResponse struct {
	// AuthorizationID is the gs2 header's a= value as sent, "" if absent;
	// Kafka does not undo its =2C and =3D.
	AuthorizationID string
	// Token is the bearer token.
	Token string
	// Extensions are the key=value pairs other than auth; nil if none.
	Extensions map[string]string
}

// errInitialResponse is Kafka's text for any malformed initial response;
// the reasons are kept for logs.
var errInitialResponse = errors.New("Invalid OAUTHBEARER client first message")

// ParseInitialResponse parses
//
//	n,[a=<saslname>],^A(<key>=<value>^A)*^A
//
// (^A is the byte 0x01), where key is [A-Za-z]+, value is one or more of
// 0x21..0x7E, space, tab, CR and LF, a saslname is ASCII with '=' only in
// "=2C" and "=3D", and the pairs must include auth="<scheme> <token>" with
// scheme "Bearer" in any case and a token of [-_.a-zA-Z0-9]. A repeated key
// keeps its last value, as Kafka's Utils.parseMap does.
func ParseInitialResponse(message []byte) (InitialResponse, error) {
	rest, isHeader := bytes.CutPrefix(message, []byte("n,"))
	if !isHeader {
		return InitialResponse{}, errInitialResponse
	}
	var response InitialResponse
	header, rest, found := bytes.Cut(rest, []byte(","))
	if !found {
		return InitialResponse{}, errInitialResponse
	}
	if len(header) > 0 {
		authorizationID, isAuthorization := bytes.CutPrefix(header, []byte("a="))
		if !isAuthorization || !isSaslASCII(authorizationID) || bytes.IndexByte(authorizationID, ',') >= 0 {
			return InitialResponse{}, errInitialResponse
		}
		if _, valid := decodeSaslName(string(authorizationID)); !valid {
			return InitialResponse{}, errInitialResponse
		}
		response.AuthorizationID = string(authorizationID)
	}

	// What is left is ^A, the pairs each ending in ^A, and a last ^A.
	pairs, isFramed := bytes.CutPrefix(rest, []byte{0x01})
	if !isFramed {
		return InitialResponse{}, errInitialResponse
	}
	pairs, isFramed = bytes.CutSuffix(pairs, []byte{0x01})
	if !isFramed {
		return InitialResponse{}, errInitialResponse
	}
	var auth string
	var hasAuth bool
	for len(pairs) > 0 {
		pair, after, terminated := bytes.Cut(pairs, []byte{0x01})
		if !terminated {
			return InitialResponse{}, errInitialResponse
		}
		pairs = after
		key, value, hasValue := bytes.Cut(pair, []byte("="))
		if !hasValue || !isAlpha(string(key)) || !isExtensionValue(value) {
			return InitialResponse{}, errInitialResponse
		}
		if string(key) == "auth" {
			auth, hasAuth = string(value), true
			continue
		}
		if response.Extensions == nil {
			response.Extensions = map[string]string{}
		}
		response.Extensions[string(key)] = string(value)
	}
	if !hasAuth {
		return InitialResponse{}, errors.New("Invalid OAUTHBEARER client first message: 'auth' not specified")
	}
	scheme, token, isAuth := parseAuthorization(auth)
	if !isAuth {
		return InitialResponse{}, errors.New("Invalid OAUTHBEARER client first message: invalid 'auth' format")
	}
	if !strings.EqualFold(scheme, "bearer") {
		return InitialResponse{}, errors.New("Invalid scheme in OAUTHBEARER client first message")
	}
	response.Token = token
	return response, nil
}

// parseAuthorization matches Kafka's (?<scheme>\w+)[ ]+(?<token>[-_.a-zA-Z0-9]+).
func parseAuthorization(auth string) (scheme, token string, ok bool) {
	end := 0
	for end < len(auth) && isWordByte(auth[end]) {
		end++
	}
	scheme = auth[:end]
	rest := auth[end:]
	spaces := len(rest) - len(strings.TrimLeft(rest, " "))
	token = rest[spaces:]
	if scheme == "" || spaces == 0 || token == "" {
		return "", "", false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !isWordByte(c) && c != '-' && c != '.' {
			return "", "", false
		}
	}
	return scheme, token, true
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// isExtensionValue is Kafka's VALUE: one or more of 0x21..0x7E, space, tab,
// CR and LF.
func isExtensionValue(value []byte) bool {
	if len(value) == 0 {
		return false
	}
	for _, c := range value {
		if !(0x21 <= c && c <= 0x7E || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			return false
		}
	}
	return true
}

// invalidTokenMessage is the error challenge Kafka's OAuthBearerSaslServer
// sends when the token is refused: its validator always reports
// invalid_token, with neither scope nor openid-configuration.
const invalidTokenMessage = `{"status":"invalid_token"}`

type oauthBearerServer struct {
	validator TokenValidator
	state     oauthBearerState
	// refusal is why the token was refused, kept for the error after the
	// client's ^A.
	refusal      string
	serverResult Result
}

type oauthBearerState int

const (
	oauthBearerExpectInitial oauthBearerState = iota
	oauthBearerExpectAcknowledgement
	oauthBearerOver
)

// NewOAuthBearerServer returns the server side of one OAUTHBEARER exchange
// (RFC 7628), as Kafka's OAuthBearerSaslServer: a valid token is answered
// with nothing and done; a refused one with {"status":"invalid_token"},
// after which the client must send the single byte 0x01 and Step fails with
// that JSON as the message, as Kafka sends it. Unlike Kafka, which parses
// anything other than 0x01 there as a fresh initial response, any other
// message fails the exchange, as RFC 7628 section 3.2.3 has it.
func NewOAuthBearerServer(validator TokenValidator) Server {
	return &oauthBearerServer{validator: validator}
}

func (s *oauthBearerServer) Mechanism() string { return MechanismOAuthBearer }

func (s *oauthBearerServer) Result() Result { return s.serverResult }

func (s *oauthBearerServer) Step(clientMessage []byte) ([]byte, bool, error) {
	state := s.state
	s.state = oauthBearerOver
	switch state {
	case oauthBearerExpectInitial:
		return s.initial(clientMessage)
	case oauthBearerExpectAcknowledgement:
		if len(clientMessage) == 1 && clientMessage[0] == 0x01 {
			return nil, false, failureWithText(MechanismOAuthBearer, invalidTokenMessage, s.refusal)
		}
		return nil, false, failure(MechanismOAuthBearer, "client answered the error challenge with other than 0x01; token refused: "+s.refusal)
	}
	return nil, false, exchangeOver(MechanismOAuthBearer)
}

func (s *oauthBearerServer) initial(message []byte) ([]byte, bool, error) {
	response, err := ParseInitialResponse(message)
	if err != nil {
		return nil, false, failure(MechanismOAuthBearer, err.Error())
	}
	token, err := s.validator.Validate(response.Token)
	if err != nil {
		s.refusal = err.Error()
		s.state = oauthBearerExpectAcknowledgement
		return []byte(invalidTokenMessage), false, nil
	}
	if response.AuthorizationID != "" && response.AuthorizationID != token.Principal {
		text := "Authentication failed: Client requested an authorization id (" + response.AuthorizationID +
			") that is different from the token's principal name (" + token.Principal + ")"
		return nil, false, failureWithText(MechanismOAuthBearer, text, text)
	}
	s.serverResult = Result{
		User:       token.Principal,
		Expiry:     token.Expiry,
		Scopes:     token.Scopes,
		Extensions: response.Extensions,
	}
	return []byte{}, true, nil
}
