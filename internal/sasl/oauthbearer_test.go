package sasl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestParseInitialResponse(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    InitialResponse
	}{
		{"Kafka's client", "n,,\x01auth=Bearer abc.def-ghi_jk\x01\x01", InitialResponse{Token: "abc.def-ghi_jk"}},
		{"authorization id and extensions", "n,a=alice,\x01auth=bearer   t\x01traceId=x y=z\x01\x01",
			InitialResponse{AuthorizationID: "alice", Token: "t", Extensions: map[string]string{"traceId": "x y=z"}}},
		{"any order, last repeat wins", "n,,\x01k=1\x01auth=BEARER t\x01k=2\x01\x01",
			InitialResponse{Token: "t", Extensions: map[string]string{"k": "2"}}},
		{"escaped authorization id is kept as sent", "n,a=a=2Cb,\x01auth=Bearer t\x01\x01", InitialResponse{AuthorizationID: "a=2Cb", Token: "t"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := ParseInitialResponse([]byte(test.message))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("got %+v, want %+v", got, test.want)
			}
		})
	}

	refused := []struct{ name, message string }{
		{"empty", ""},
		{"no auth", "n,,\x01k=v\x01\x01"},
		{"other scheme", "n,,\x01auth=Basic dXNlcg\x01\x01"},
		{"no space after the scheme", "n,,\x01auth=Bearer\x01\x01"},
		{"base64 padding in the token", "n,,\x01auth=Bearer abc=\x01\x01"},
		{"trailing space after the token", "n,,\x01auth=Bearer abc \x01\x01"},
		{"no final ^A", "n,,\x01auth=Bearer t\x01"},
		{"no opening ^A", "n,,auth=Bearer t\x01\x01"},
		{"channel binding", "p=tls-unique,,\x01auth=Bearer t\x01\x01"},
		{"y header", "y,,\x01auth=Bearer t\x01\x01"},
		{"bad authorization id escape", "n,a=a=b,\x01auth=Bearer t\x01\x01"},
		{"bad key", "n,,\x01k1=v\x01auth=Bearer t\x01\x01"},
		{"empty value", "n,,\x01k=\x01auth=Bearer t\x01\x01"},
		{"control byte in a value", "n,,\x01k=a\x02b\x01auth=Bearer t\x01\x01"},
		{"non-ASCII value", "n,,\x01k=\xc3\xa9\x01auth=Bearer t\x01\x01"},
		{"pair without '='", "n,,\x01auth\x01\x01"},
		{"just ^A", "\x01"},
	}
	for _, test := range refused {
		t.Run("refused/"+test.name, func(t *testing.T) {
			if got, err := ParseInitialResponse([]byte(test.message)); err == nil {
				t.Errorf("parsed as %+v", got)
			}
		})
	}
}

// testKey is a signing key and its public JWK.
type testKey struct {
	algorithm jose.SignatureAlgorithm
	private   any
	public    jose.JSONWebKey
}

func newRSAKey(t *testing.T, keyID string) testKey {
	t.Helper()
	private, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{jose.RS256, private, jose.JSONWebKey{Key: &private.PublicKey, KeyID: keyID, Algorithm: "RS256", Use: "sig"}}
}

func newECKey(t *testing.T, keyID string) testKey {
	t.Helper()
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{jose.ES256, private, jose.JSONWebKey{Key: &private.PublicKey, KeyID: keyID}}
}

func jwksDocument(t *testing.T, keys ...testKey) []byte {
	t.Helper()
	set := jose.JSONWebKeySet{}
	for _, key := range keys {
		set.Keys = append(set.Keys, key.public)
	}
	document, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return document
}

// sign makes a compact JWT of claims; keyID overrides the key's id when
// not nil.
func sign(t *testing.T, key testKey, keyID *string, claims map[string]any) string {
	t.Helper()
	id := key.public.KeyID
	if keyID != nil {
		id = *keyID
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.algorithm, Key: jose.JSONWebKey{Key: key.private, KeyID: id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := signed.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return compact
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testEpoch = time.Unix(1_800_000_000, 0)

func writeJWKS(t *testing.T, path string, document []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", document, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, nil))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestJWTValidator(t *testing.T) {
	rsaKey := newRSAKey(t, "rsa-1")
	ecKey := newECKey(t, "ec-1")
	stranger := newRSAKey(t, "rsa-1") // same kid, key not in the JWKS
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, jwksDocument(t, rsaKey, ecKey))
	clock := &testClock{now: testEpoch}
	validator, err := NewJWTValidator(OAuthBearerConfig{
		JWKSEndpointURL:  "file://" + path,
		ExpectedIssuer:   "https://issuer.example",
		ExpectedAudience: []string{"kafka", "other"},
		Now:              clock.Now,
		Logger:           quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	now := testEpoch.Unix()
	base := func(changes map[string]any) map[string]any {
		claims := map[string]any{
			"sub": "alice", "iss": "https://issuer.example", "aud": "kafka",
			"iat": now - 10, "exp": now + 600, "scope": []string{"read", " write "},
		}
		for name, value := range changes {
			if value == nil {
				delete(claims, name)
			} else {
				claims[name] = value
			}
		}
		return claims
	}
	noKeyID := ""
	tests := []struct {
		name        string
		token       string
		wantError   string // "" for a valid token
		wantScopes  []string
		wantSubject string
	}{
		{name: "RSA", token: sign(t, rsaKey, nil, base(nil)), wantScopes: []string{"read", "write"}, wantSubject: "alice"},
		{name: "EC", token: sign(t, ecKey, nil, base(nil)), wantScopes: []string{"read", "write"}, wantSubject: "alice"},
		{name: "no kid: every fitting key is tried", token: sign(t, ecKey, &noKeyID, base(nil)), wantScopes: []string{"read", "write"}, wantSubject: "alice"},
		{name: "audience list", token: sign(t, rsaKey, nil, base(map[string]any{"aud": []string{"x", "other"}})), wantScopes: []string{"read", "write"}, wantSubject: "alice"},
		{name: "scope string is one scope", token: sign(t, rsaKey, nil, base(map[string]any{"scope": "read write"})), wantScopes: []string{"read write"}, wantSubject: "alice"},
		{name: "no scope", token: sign(t, rsaKey, nil, base(map[string]any{"scope": nil})), wantSubject: "alice"},
		{name: "scope of another type is none", token: sign(t, rsaKey, nil, base(map[string]any{"scope": 7})), wantSubject: "alice"},
		{name: "expired within the clock skew", token: sign(t, rsaKey, nil, base(map[string]any{"exp": now - 29})), wantScopes: []string{"read", "write"}, wantSubject: "alice"},
		{name: "subject trimmed", token: sign(t, rsaKey, nil, base(map[string]any{"sub": " bob\t"})), wantScopes: []string{"read", "write"}, wantSubject: "bob"},
		{name: "fractional exp", token: sign(t, rsaKey, nil, base(map[string]any{"exp": float64(now) + 600.7})), wantScopes: []string{"read", "write"}, wantSubject: "alice"},

		{name: "expired", token: sign(t, rsaKey, nil, base(map[string]any{"exp": now - 30})), wantError: "no longer valid"},
		{name: "not yet valid", token: sign(t, rsaKey, nil, base(map[string]any{"nbf": now + 31})), wantError: "not yet valid"},
		{name: "no exp", token: sign(t, rsaKey, nil, base(map[string]any{"exp": nil})), wantError: "No Expiration Time (exp) claim present."},
		{name: "exp a string", token: sign(t, rsaKey, nil, base(map[string]any{"exp": "1900000000"})), wantError: "'exp' claim is not the expected type"},
		{name: "no iat", token: sign(t, rsaKey, nil, base(map[string]any{"iat": nil})), wantError: "No Issued At (iat) claim present."},
		{name: "wrong issuer", token: sign(t, rsaKey, nil, base(map[string]any{"iss": "https://evil.example"})), wantError: "doesn't match expected value"},
		{name: "no issuer", token: sign(t, rsaKey, nil, base(map[string]any{"iss": nil})), wantError: "No Issuer (iss) claim present"},
		{name: "wrong audience", token: sign(t, rsaKey, nil, base(map[string]any{"aud": []string{"zookeeper"}})), wantError: "doesn't contain an acceptable identifier"},
		{name: "no audience", token: sign(t, rsaKey, nil, base(map[string]any{"aud": nil})), wantError: "No Audience (aud) claim present."},
		{name: "no subject", token: sign(t, rsaKey, nil, base(map[string]any{"sub": nil})), wantError: "sub value must be non-null"},
		{name: "blank subject", token: sign(t, rsaKey, nil, base(map[string]any{"sub": "  "})), wantError: "sub value must be non-null"},
		{name: "subject a number", token: sign(t, rsaKey, nil, base(map[string]any{"sub": 5})), wantError: "'sub' claim is not the expected type"},
		{name: "duplicate scope", token: sign(t, rsaKey, nil, base(map[string]any{"scope": []string{"a", " a"}})), wantError: "must not contain duplicates"},
		{name: "blank scope", token: sign(t, rsaKey, nil, base(map[string]any{"scope": []string{"a", ""}})), wantError: "scope value must be non-null"},
		{name: "wrong key with a known kid", token: sign(t, stranger, nil, base(nil)), wantError: "does not verify"},
		{name: "unknown kid", token: sign(t, newRSAKey(t, "rsa-9"), nil, base(nil)), wantError: "no key in the JWKS has the token's key id"},
		{name: "malformed", token: "abc.def", wantError: "Malformed JWT"},
		{name: "garbage sections", token: "a.b.c", wantError: "Could not validate the access token"},
		{name: "alg none", token: unsignedToken(base(nil)), wantError: "Could not validate the access token"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			token, err := validator.Validate(test.token)
			if test.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantError) {
					t.Fatalf("error %v, want one with %q", err, test.wantError)
				}
				if strings.Contains(err.Error(), test.token) {
					t.Errorf("error %q shows the token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if token.Principal != test.wantSubject || !reflect.DeepEqual(token.Scopes, test.wantScopes) && len(test.wantScopes)+len(token.Scopes) > 0 {
				t.Errorf("token %+v", token)
			}
			if token.IssuedAt.Unix() != now-10 {
				t.Errorf("IssuedAt %v", token.IssuedAt)
			}
		})
	}
}

func unsignedToken(claims map[string]any) string {
	header := `{"alg":"none","kid":"rsa-1"}`
	payload, _ := json.Marshal(claims)
	encode := func(b []byte) string { return strings.TrimRight(base64URL(b), "=") }
	return encode([]byte(header)) + "." + encode(payload) + "."
}

func TestJWTValidatorAudienceNotConfigured(t *testing.T) {
	key := newECKey(t, "k")
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, jwksDocument(t, key))
	clock := &testClock{now: testEpoch}
	validator, err := NewJWTValidator(OAuthBearerConfig{JWKSEndpointURL: "file://" + path, Now: clock.Now, ClockSkew: -1,
		SubClaimName: "client_id", ScopeClaimName: "scp"})
	if err != nil {
		t.Fatal(err)
	}
	now := testEpoch.Unix()
	token, err := validator.Validate(sign(t, key, nil, map[string]any{"client_id": "svc", "iat": now, "exp": now + 1, "scp": "x"}))
	if err != nil || token.Principal != "svc" || !reflect.DeepEqual(token.Scopes, []string{"x"}) || !token.Expiry.Equal(testEpoch.Add(time.Second)) {
		t.Fatalf("token %+v, error %v", token, err)
	}
	// With no skew the second of exp is already too late.
	if _, err := validator.Validate(sign(t, key, nil, map[string]any{"client_id": "svc", "iat": now, "exp": now})); err == nil {
		t.Error("a token at its exp was accepted with no skew")
	}
	// Kafka, through jose4j, refuses any aud when none is expected.
	_, err = validator.Validate(sign(t, key, nil, map[string]any{"client_id": "svc", "iat": now, "exp": now + 60, "aud": "kafka"}))
	if err == nil || !strings.Contains(err.Error(), "no expected audience") {
		t.Errorf("error %v", err)
	}
}

// TestJWKSRotation: a token signed by a key the cache has not seen causes
// one refresh, which finds the provider's new key; more unknown ids within
// Kafka's minute do not fetch again.
func TestJWKSRotation(t *testing.T) {
	oldKey := newRSAKey(t, "old")
	newKey := newECKey(t, "new")
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, jwksDocument(t, oldKey))
	clock := &testClock{now: testEpoch}
	validator, err := NewJWTValidator(OAuthBearerConfig{JWKSEndpointURL: "file://" + path, Now: clock.Now, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	now := testEpoch.Unix()
	claims := map[string]any{"sub": "alice", "iat": now, "exp": now + 3600}
	if _, err := validator.Validate(sign(t, oldKey, nil, claims)); err != nil {
		t.Fatal(err)
	}
	newToken := sign(t, newKey, nil, claims)
	if _, err := validator.Validate(newToken); err == nil {
		t.Fatal("a token of a key not yet published was accepted")
	}

	writeJWKS(t, path, jwksDocument(t, oldKey, newKey))
	// The failed id may not cause a refresh again within a minute.
	clock.Advance(30 * time.Second)
	if _, err := validator.Validate(newToken); err == nil {
		t.Fatal("the missing key id refreshed again within a minute")
	}
	clock.Advance(31 * time.Second)
	if _, err := validator.Validate(newToken); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	// The provider drops the old key: the hourly refresh notices.
	writeJWKS(t, path, jwksDocument(t, newKey))
	oldToken := sign(t, oldKey, nil, map[string]any{"sub": "alice", "iat": now, "exp": now + 7200})
	if _, err := validator.Validate(oldToken); err != nil {
		t.Fatalf("before the refresh interval: %v", err)
	}
	clock.Advance(time.Hour)
	if _, err := validator.Validate(oldToken); err == nil {
		t.Error("a dropped key still verifies after the refresh interval")
	}
}

// jwksServer serves a JWKS over TLS and counts the fetches.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	document []byte
	status   int
	fetches  atomic.Int32
}

func newJWKSServer(t *testing.T, document []byte) *jwksServer {
	t.Helper()
	server := &jwksServer{document: document, status: http.StatusOK}
	server.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		server.fetches.Add(1)
		server.mu.Lock()
		defer server.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(server.status)
		w.Write(server.document)
	}))
	t.Cleanup(server.Close)
	return server
}

func (s *jwksServer) serve(status int, document []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.document = status, document
}

func TestJWKSOverHTTPS(t *testing.T) {
	rsaKey := newRSAKey(t, "a")
	ecKey := newECKey(t, "b")
	server := newJWKSServer(t, jwksDocument(t, rsaKey))
	clock := &testClock{now: testEpoch}
	config := OAuthBearerConfig{
		JWKSEndpointURL:     server.URL + "/jwks",
		JWKSEndpointRefresh: 10 * time.Minute,
		HTTPClient:          server.Client(),
		Now:                 clock.Now,
		Logger:              quietLogger(),
	}
	validator, err := NewJWTValidator(config)
	if err != nil {
		t.Fatal(err)
	}
	now := testEpoch.Unix()
	claims := map[string]any{"sub": "alice", "iat": now, "exp": now + 7200}
	rsaToken, ecToken := sign(t, rsaKey, nil, claims), sign(t, ecKey, nil, claims)
	for range 5 {
		if _, err := validator.Validate(rsaToken); err != nil {
			t.Fatal(err)
		}
	}
	if got := server.fetches.Load(); got != 1 {
		t.Errorf("%d fetches for five tokens of a known key", got)
	}

	// Unknown key ids: one refresh, and within a second no other, whatever
	// the id.
	if _, err := validator.Validate(ecToken); err == nil {
		t.Fatal("unknown key accepted")
	}
	other := "c"
	if _, err := validator.Validate(sign(t, ecKey, &other, claims)); err == nil {
		t.Fatal("unknown key accepted")
	}
	if got := server.fetches.Load(); got != 2 {
		t.Errorf("%d fetches after two unknown key ids, want 2", got)
	}

	// The provider fails: the last keys stay in use, and retries back off.
	server.serve(http.StatusInternalServerError, nil)
	clock.Advance(10 * time.Minute)
	if _, err := validator.Validate(rsaToken); err != nil {
		t.Fatalf("with the provider down: %v", err)
	}
	fetchesAfterFailure := server.fetches.Load()
	if _, err := validator.Validate(rsaToken); err != nil {
		t.Fatal(err)
	}
	if got := server.fetches.Load(); got != fetchesAfterFailure {
		t.Errorf("retried at once after a failure: %d fetches, want %d", got, fetchesAfterFailure)
	}

	// It comes back with the new key: after the backoff the stale keys are
	// refreshed.
	server.serve(http.StatusOK, jwksDocument(t, rsaKey, ecKey))
	clock.Advance(time.Second)
	if _, err := validator.Validate(ecToken); err != nil {
		t.Fatalf("after the provider recovered: %v", err)
	}

	// The wrong trust: the system roots do not trust httptest's certificate.
	config.HTTPClient = nil
	if _, err := NewJWTValidator(config); err == nil || !strings.Contains(err.Error(), "Could not refresh JWKS") {
		t.Errorf("untrusted endpoint: %v", err)
	}
}

func TestNewJWTValidatorErrors(t *testing.T) {
	dir := t.TempDir()
	notJWKS := filepath.Join(dir, "not.json")
	os.WriteFile(notJWKS, []byte(`{"kty":"RSA"}`), 0o600)
	for _, location := range []string{"", "ftp://example.com/jwks", "file://" + filepath.Join(dir, "missing.json"), "file://" + notJWKS, "::"} {
		if _, err := NewJWTValidator(OAuthBearerConfig{JWKSEndpointURL: location}); err == nil {
			t.Errorf("%q accepted", location)
		}
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	rsaKey := newRSAKey(t, "a")
	document := []byte(`{"keys":[` +
		`{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},` +
		`{"kty":"RSA","kid":"broken","n":"","e":""},` +
		`{"kty":"unknown","kid":"x"},` + string(mustJSON(t, rsaKey.public)) + `,` +
		`{"kty":"EC","crv":"P-256","use":"enc","kid":"enc","x":"` + "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU" + `","y":"` + "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" + `"}]}`)
	keys, err := parseJWKS(document, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].KeyID != "a" {
		t.Errorf("keys %+v", keys)
	}
}

func mustJSON(t *testing.T, value any) []byte {
	t.Helper()
	encoded, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	return encoded
}

type fixedValidator struct {
	token Token
	err   error
}

func (v fixedValidator) Validate(string) (Token, error) { return v.token, v.err }

func TestOAuthBearerServer(t *testing.T) {
	expiry := testEpoch.Add(time.Hour)
	good := fixedValidator{token: Token{Principal: "alice", Scopes: []string{"read"}, Expiry: expiry}}
	refused := fixedValidator{err: errors.New("The JWT is no longer valid")}
	initial := []byte("n,,\x01auth=Bearer a.b.c\x01trace=1\x01\x01")

	t.Run("valid token", func(t *testing.T) {
		server := NewOAuthBearerServer(good)
		reply, done, err := server.Step(initial)
		if err != nil || !done || len(reply) != 0 {
			t.Fatalf("Step = %q, %v, %v", reply, done, err)
		}
		want := Result{User: "alice", Expiry: expiry, Scopes: []string{"read"}, Extensions: map[string]string{"trace": "1"}}
		if got := server.Result(); !reflect.DeepEqual(got, want) || got.Principal() != "User:alice" {
			t.Errorf("Result() = %+v", got)
		}
		if _, _, err := server.Step([]byte{1}); err == nil {
			t.Error("Step after done succeeded")
		}
	})
	t.Run("refused token, then ^A", func(t *testing.T) {
		server := NewOAuthBearerServer(refused)
		reply, done, err := server.Step(initial)
		if err != nil || done || string(reply) != `{"status":"invalid_token"}` {
			t.Fatalf("Step = %q, %v, %v", reply, done, err)
		}
		reply, done, err = server.Step([]byte{0x01})
		if err == nil || done || reply != nil {
			t.Fatalf("Step(^A) = %q, %v, %v", reply, done, err)
		}
		if err.Error() != `{"status":"invalid_token"}` || !strings.Contains(err.(*AuthenticationError).Detail, "no longer valid") {
			t.Errorf("error %q, detail %q", err, err.(*AuthenticationError).Detail)
		}
	})
	t.Run("refused token, then another token", func(t *testing.T) {
		server := NewOAuthBearerServer(refused)
		server.Step(initial)
		if _, _, err := server.Step(initial); err == nil || err.Error() != "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER" {
			t.Errorf("error %v", err)
		}
	})
	t.Run("malformed initial response", func(t *testing.T) {
		_, _, err := NewOAuthBearerServer(good).Step([]byte("n,,auth=Bearer x"))
		if err == nil || err.Error() != "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER" {
			t.Errorf("error %v", err)
		}
	})
	t.Run("authorization id of another principal", func(t *testing.T) {
		_, _, err := NewOAuthBearerServer(good).Step([]byte("n,a=bob,\x01auth=Bearer a.b.c\x01\x01"))
		const want = "Authentication failed: Client requested an authorization id (bob) that is different from the token's principal name (alice)"
		if err == nil || err.Error() != want {
			t.Errorf("error %v", err)
		}
	})
	t.Run("authorization id of the principal", func(t *testing.T) {
		if _, done, err := NewOAuthBearerServer(good).Step([]byte("n,a=alice,\x01auth=Bearer a.b.c\x01\x01")); err != nil || !done {
			t.Errorf("Step = %v, %v", done, err)
		}
	})
}

func TestAuthenticator(t *testing.T) {
	key := newECKey(t, "k")
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, jwksDocument(t, key))
	store := NewMemoryCredentialStore()
	authenticator, err := New(Config{
		EnabledMechanisms: []string{MechanismScramSHA512, MechanismPlain, MechanismOAuthBearer, MechanismScramSHA256, MechanismPlain},
		PlainJAASConfig:   testPlainJAAS,
		ScramCredentials:  store,
		OAuthBearer:       OAuthBearerConfig{JWKSEndpointURL: "file://" + path},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{MechanismScramSHA512, MechanismPlain, MechanismOAuthBearer, MechanismScramSHA256}
	if got := authenticator.Mechanisms(); !reflect.DeepEqual(got, want) {
		t.Errorf("Mechanisms() = %v", got)
	}
	for _, mechanism := range want {
		server, err := authenticator.NewServer(mechanism)
		if err != nil || server.Mechanism() != mechanism {
			t.Errorf("NewServer(%s) = %v, %v", mechanism, server, err)
		}
	}
	plain, _ := authenticator.NewServer(MechanismPlain)
	if _, done, err := plain.Step([]byte("\x00admin\x00admin-secret")); err != nil || !done {
		t.Errorf("PLAIN admin: %v, %v", done, err)
	}
	if _, err := authenticator.NewServer("GSSAPI"); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Errorf("NewServer(GSSAPI): %v", err)
	}

	for _, config := range []Config{
		{},
		{EnabledMechanisms: []string{"GSSAPI"}},
		{EnabledMechanisms: []string{MechanismPlain}},
		{EnabledMechanisms: []string{MechanismPlain}, PlainJAASConfig: "broken"},
		{EnabledMechanisms: []string{MechanismScramSHA256}},
		{EnabledMechanisms: []string{MechanismOAuthBearer}},
	} {
		if _, err := New(config); err == nil {
			t.Errorf("New(%+v) succeeded", config.EnabledMechanisms)
		}
	}
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
