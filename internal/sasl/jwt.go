package sasl

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// OAuthBearerConfig configures the validation of OAUTHBEARER tokens, as
// Kafka's BrokerJwtValidator reads its configs (listener-prefixed in the
// broker: listener.name.<listener>.oauthbearer.<config>). A zero field takes
// Kafka's default.
type OAuthBearerConfig struct {
	// JWKSEndpointURL is sasl.oauthbearer.jwks.endpoint.url: where the
	// identity provider publishes its signing keys, https://, http:// or
	// file://. Required.
	JWKSEndpointURL string
	// JWKSEndpointRefresh is sasl.oauthbearer.jwks.endpoint.refresh.ms,
	// default 3600000 (one hour).
	JWKSEndpointRefresh time.Duration
	// JWKSEndpointRetryBackoff is
	// sasl.oauthbearer.jwks.endpoint.retry.backoff.ms, default 100: the
	// first wait after a failed refresh, doubled on each further failure.
	JWKSEndpointRetryBackoff time.Duration
	// JWKSEndpointRetryBackoffMax is
	// sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms, default 10000.
	JWKSEndpointRetryBackoffMax time.Duration
	// ExpectedIssuer is sasl.oauthbearer.expected.issuer; when set, the iss
	// claim must equal it.
	ExpectedIssuer string
	// ExpectedAudience is sasl.oauthbearer.expected.audience; when set, the
	// aud claim must contain one of them. When it is empty a token with an
	// aud claim is refused, as jose4j's default audience check does in
	// Kafka.
	ExpectedAudience []string
	// SubClaimName is sasl.oauthbearer.sub.claim.name, default "sub": the
	// claim that names the principal.
	SubClaimName string
	// ScopeClaimName is sasl.oauthbearer.scope.claim.name, default "scope".
	ScopeClaimName string
	// ClockSkew is sasl.oauthbearer.clock.skew.seconds, default 30 s; a
	// negative value means none.
	ClockSkew time.Duration

	// HTTPClient fetches the JWKS; its Transport carries the TLS settings
	// (Kafka takes them from the JAAS ssl.* options). Nil means a client
	// with a 10 s timeout and the system's roots.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Kafka's defaults for the OAUTHBEARER configs.
const (
	DefaultJWKSEndpointRefresh         = time.Hour
	DefaultJWKSEndpointRetryBackoff    = 100 * time.Millisecond
	DefaultJWKSEndpointRetryBackoffMax = 10 * time.Second
	DefaultClockSkew                   = 30 * time.Second
	DefaultSubClaimName                = "sub"
	DefaultScopeClaimName              = "scope"
)

// jwtAlgorithms are the signature algorithms accepted: the asymmetric ones,
// since a JWKS publishes public keys. jose4j, with Kafka's DISALLOW_NONE,
// would also take HMAC with an "oct" key in the JWKS; no provider publishes
// its HMAC secret, so those are left out.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// JWTValidator is Kafka's BrokerJwtValidator: it checks a JWT's signature
// against the provider's JWKS and its claims by Kafka's rules. It is safe for
// concurrent use and owns no goroutine.
type JWTValidator struct {
	keys           *jwksCache
	issuer         string
	audience       map[string]bool
	subClaimName   string
	scopeClaimName string
	clockSkew      time.Duration
	now            func() time.Time
}

// NewJWTValidator fetches the JWKS once, failing if it cannot, as Kafka's
// broker fails its startup then.
func NewJWTValidator(config OAuthBearerConfig) (*JWTValidator, error) {
	if config.JWKSEndpointURL == "" {
		return nil, errors.New("sasl: sasl.oauthbearer.jwks.endpoint.url is required to validate OAUTHBEARER tokens")
	}
	orDefault := func(value, fallback time.Duration) time.Duration {
		if value <= 0 {
			return fallback
		}
		return value
	}
	client := config.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: jwksFetchTimeout}
	}
	now := config.Now
	if now == nil {
		now = time.Now
	}
	logger := config.Logger
	if logger == nil {
		logger = slog.Default()
	}
	validator := &JWTValidator{
		issuer:         config.ExpectedIssuer,
		subClaimName:   config.SubClaimName,
		scopeClaimName: config.ScopeClaimName,
		clockSkew:      config.ClockSkew,
		now:            now,
	}
	if validator.subClaimName == "" {
		validator.subClaimName = DefaultSubClaimName
	}
	if validator.scopeClaimName == "" {
		validator.scopeClaimName = DefaultScopeClaimName
	}
	switch {
	case validator.clockSkew == 0:
		validator.clockSkew = DefaultClockSkew
	case validator.clockSkew < 0:
		validator.clockSkew = 0
	}
	if len(config.ExpectedAudience) > 0 {
		validator.audience = map[string]bool{}
		for _, audience := range config.ExpectedAudience {
			validator.audience[audience] = true
		}
	}
	keys, err := newJWKSCache(config.JWKSEndpointURL, client,
		orDefault(config.JWKSEndpointRefresh, DefaultJWKSEndpointRefresh),
		orDefault(config.JWKSEndpointRetryBackoff, DefaultJWKSEndpointRetryBackoff),
		orDefault(config.JWKSEndpointRetryBackoffMax, DefaultJWKSEndpointRetryBackoffMax),
		now, logger)
	if err != nil {
		return nil, err
	}
	if err := keys.load(); err != nil {
		return nil, fmt.Errorf("sasl: Could not refresh JWKS: %w", err)
	}
	validator.keys = keys
	return validator, nil
}

// Validate implements TokenValidator. Its errors say why, for the log.
func (v *JWTValidator) Validate(token string) (Token, error) {
	token = strings.TrimSpace(token)
	if strings.Count(token, ".") != 2 {
		return Token{}, errors.New("Malformed JWT provided; expected three sections (header, payload, and signature)")
	}
	signature, err := jose.ParseSignedCompact(token, jwtAlgorithms)
	if err != nil {
		return Token{}, fmt.Errorf("Could not validate the access token: %w", err)
	}
	payload, err := v.verify(signature)
	if err != nil {
		return Token{}, fmt.Errorf("Could not validate the access token: %w", err)
	}
	claims, err := decodeClaims(payload)
	if err != nil {
		return Token{}, fmt.Errorf("Could not validate the access token: %w", err)
	}
	return v.checkClaims(claims)
}

// verify finds the key that signed the token, fetching the JWKS again if
// the token names a key id it lacks.
func (v *JWTValidator) verify(signature *jose.JSONWebSignature) ([]byte, error) {
	header := signature.Signatures[0].Header
	candidates := v.keys.candidates(header.KeyID)
	tried := 0
	for _, key := range candidates {
		if !keyFits(key, header.Algorithm) {
			continue
		}
		tried++
		if payload, err := signature.Verify(key); err == nil {
			return payload, nil
		}
	}
	switch {
	case len(candidates) == 0 && header.KeyID != "":
		return nil, fmt.Errorf("no key in the JWKS has the token's key id %s", quoteForLog(header.KeyID))
	case tried == 0:
		return nil, fmt.Errorf("no key in the JWKS suits algorithm %s", quoteForLog(header.Algorithm))
	}
	return nil, errors.New("the signature does not verify with any key of the JWKS that suits it")
}

// keyFits is jose4j's VerificationJwkSelector: the key's type must suit the
// algorithm, and its alg, if it names one, must be the token's.
func keyFits(key jose.JSONWebKey, algorithm string) bool {
	if key.Algorithm != "" && key.Algorithm != algorithm {
		return false
	}
	switch key.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(algorithm, "RS") || strings.HasPrefix(algorithm, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(algorithm, "ES")
	case ed25519.PublicKey:
		return algorithm == string(jose.EdDSA)
	}
	return false
}

// decodeClaims reads the claims object, refusing duplicate names as jose4j's
// JSON parser does: with duplicates, which one counts would depend on the
// parser.
func decodeClaims(payload []byte) (map[string]json.RawMessage, error) {
	decoder := json.NewDecoder(bytes.NewReader(payload))
	if start, err := decoder.Token(); err != nil || start != json.Delim('{') {
		return nil, errors.New("the JWT claims are not a JSON object")
	}
	claims := map[string]json.RawMessage{}
	for decoder.More() {
		nameToken, err := decoder.Token()
		if err != nil {
			return nil, fmt.Errorf("the JWT claims do not parse: %w", err)
		}
		name, _ := nameToken.(string)
		var value json.RawMessage
		if err := decoder.Decode(&value); err != nil {
			return nil, fmt.Errorf("the JWT claims do not parse: %w", err)
		}
		if _, seen := claims[name]; seen {
			return nil, fmt.Errorf("the JWT claims name %s twice", quoteForLog(name))
		}
		claims[name] = value
	}
	if end, err := decoder.Token(); err != nil || end != json.Delim('}') {
		return nil, errors.New("the JWT claims do not parse")
	}
	if _, err := decoder.Token(); err != io.EOF {
		return nil, errors.New("the JWT claims are followed by more data")
	}
	return claims, nil
}

// checkClaims applies jose4j's checks as Kafka configures them (exp and iat
// required, nbf and exp against the clock with the skew, iss and aud), then
// Kafka's own (the subject and scope claims).
func (v *JWTValidator) checkClaims(claims map[string]json.RawMessage) (Token, error) {
	expiry, hasExpiry, err := numericDateClaim(claims, "exp")
	if err != nil {
		return Token{}, err
	}
	issuedAt, hasIssuedAt, err := numericDateClaim(claims, "iat")
	if err != nil {
		return Token{}, err
	}
	notBefore, hasNotBefore, err := numericDateClaim(claims, "nbf")
	if err != nil {
		return Token{}, err
	}
	// jose4j's default validators read these claims and refuse a token in
	// which they are not strings.
	for _, name := range []string{"iss", "sub", "jti"} {
		if _, _, err := stringClaim(claims, name); err != nil {
			return Token{}, err
		}
	}
	if !hasExpiry {
		return Token{}, errors.New("No Expiration Time (exp) claim present.")
	}
	if !hasIssuedAt {
		return Token{}, errors.New("No Issued At (iat) claim present.")
	}
	now := v.now().Unix()
	skew := int64(v.clockSkew / time.Second)
	if now-skew >= expiry {
		return Token{}, fmt.Errorf("The JWT is no longer valid - the evaluation time %d is on or after the Expiration Time (exp=%d) claim value (even when providing %d seconds of leeway to account for clock skew).", now, expiry, skew)
	}
	if hasNotBefore && now+skew < notBefore {
		return Token{}, fmt.Errorf("The JWT is not yet valid as the evaluation time %d is before the Not Before (nbf=%d) claim time (even when providing %d seconds of leeway to account for clock skew).", now, notBefore, skew)
	}
	if err := v.checkAudience(claims); err != nil {
		return Token{}, err
	}
	if v.issuer != "" {
		issuer, hasIssuer, _ := stringClaim(claims, "iss")
		if !hasIssuer {
			return Token{}, fmt.Errorf("No Issuer (iss) claim present but was expecting %s", v.issuer)
		}
		if issuer != v.issuer {
			return Token{}, fmt.Errorf("Issuer (iss) claim value (%s) doesn't match expected value of %s", quoteForLog(issuer), v.issuer)
		}
	}

	scopes, err := v.scopes(claims)
	if err != nil {
		return Token{}, err
	}
	if expiry < 0 {
		return Token{}, fmt.Errorf("exp value must be non-negative; value given was \"%d\"", expiry)
	}
	subject, _, err := stringClaim(claims, v.subClaimName)
	if err != nil {
		return Token{}, fmt.Errorf("Could not extract the '%s' claim from the access token", v.subClaimName)
	}
	subject = javaTrim(subject)
	if subject == "" {
		return Token{}, fmt.Errorf("%s value must be non-null, non-empty, and non-whitespace", v.subClaimName)
	}
	if issuedAt < 0 {
		return Token{}, fmt.Errorf("iat value must be null or non-negative; value given was \"%d\"", issuedAt)
	}
	return Token{
		Principal: subject,
		Scopes:    scopes,
		Expiry:    time.Unix(expiry, 0),
		IssuedAt:  time.Unix(issuedAt, 0),
	}, nil
}

func (v *JWTValidator) checkAudience(claims map[string]json.RawMessage) error {
	raw, present := claims["aud"]
	if !present || isJSONNull(raw) {
		if len(v.audience) > 0 {
			return errors.New("No Audience (aud) claim present.")
		}
		return nil
	}
	var audiences []string
	var single string
	if err := json.Unmarshal(raw, &single); err == nil {
		audiences = []string{single}
	} else if err := json.Unmarshal(raw, &audiences); err != nil {
		return errors.New("The value of the 'aud' claim is not the expected type")
	}
	if len(v.audience) == 0 {
		return errors.New("Audience (aud) claim present in the JWT but no expected audience value(s) were provided to the JWT Consumer.")
	}
	for _, audience := range audiences {
		if v.audience[audience] {
			return nil
		}
	}
	return errors.New("Audience (aud) claim doesn't contain an acceptable identifier.")
}

// scopes reads the scope claim as BrokerJwtValidator does: a string is one
// scope (not split at spaces), an array of strings is many, anything else
// none; each is trimmed and must be neither blank nor repeated.
func (v *JWTValidator) scopes(claims map[string]json.RawMessage) ([]string, error) {
	raw, present := claims[v.scopeClaimName]
	if !present {
		return nil, nil
	}
	var values []string
	var single string
	var many []json.RawMessage
	switch {
	case json.Unmarshal(raw, &single) == nil && !isJSONNull(raw):
		values = []string{single}
	case json.Unmarshal(raw, &many) == nil && !isJSONNull(raw):
		for _, element := range many {
			var value string
			if isJSONNull(element) || json.Unmarshal(element, &value) != nil {
				return nil, fmt.Errorf("%s value must be non-null, non-empty, and non-whitespace", v.scopeClaimName)
			}
			values = append(values, value)
		}
	default:
		return nil, nil
	}
	seen := map[string]bool{}
	scopes := make([]string, 0, len(values))
	for _, value := range values {
		scope := javaTrim(value)
		if scope == "" {
			return nil, fmt.Errorf("%s value must be non-null, non-empty, and non-whitespace", v.scopeClaimName)
		}
		if seen[scope] {
			return nil, fmt.Errorf("%s value must not contain duplicates - %s already present", v.scopeClaimName, quoteForLog(scope))
		}
		seen[scope] = true
		scopes = append(scopes, scope)
	}
	return scopes, nil
}

// numericDateClaim reads a NumericDate as jose4j does: a JSON number of
// seconds, a fraction dropped; null is absent.
func numericDateClaim(claims map[string]json.RawMessage, name string) (seconds int64, present bool, err error) {
	raw, present := claims[name]
	if !present || isJSONNull(raw) {
		return 0, false, nil
	}
	var number json.Number
	if err := json.Unmarshal(raw, &number); err != nil || !bytes.ContainsAny(raw[:1], "-0123456789") {
		return 0, false, fmt.Errorf("The value of the '%s' claim is not the expected type", name)
	}
	if seconds, err := strconv.ParseInt(number.String(), 10, 64); err == nil {
		return seconds, true, nil
	}
	float, err := strconv.ParseFloat(number.String(), 64)
	if err != nil || math.IsNaN(float) || float >= math.MaxInt64 || float <= math.MinInt64 {
		return 0, false, fmt.Errorf("The value of the '%s' claim is out of range", name)
	}
	return int64(float), true, nil
}

// stringClaim reads a claim that must be a string if present; null is
// absent.
func stringClaim(claims map[string]json.RawMessage, name string) (value string, present bool, err error) {
	raw, present := claims[name]
	if !present || isJSONNull(raw) {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &value); err != nil {
		return "", false, fmt.Errorf("The value of the '%s' claim is not the expected type", name)
	}
	return value, true, nil
}

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// javaTrim is Java's String.trim: it strips every character up to U+0020.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
