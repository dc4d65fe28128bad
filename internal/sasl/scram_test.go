package sasl

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

const scramGeneric = "Authentication failed during authentication due to invalid credentials with SASL mechanism "

func scramClientFor(t *testing.T, mechanism ScramMechanism, user, password, authorizationID string) *scram.ClientConversation {
	t.Helper()
	hashFunction, _ := mechanism.hash()
	client, err := hashFunction.NewClient(user, password, authorizationID)
	if err != nil {
		t.Fatal(err)
	}
	return client.NewConversation()
}

// exchange runs a whole SCRAM conversation between xdg-go/scram's client
// and the server, letting tamper rewrite the client-final message.
func exchange(t *testing.T, server Server, client *scram.ClientConversation, tamper func(string) string) error {
	t.Helper()
	clientFirst, err := client.Step("")
	if err != nil {
		t.Fatal(err)
	}
	serverFirst, done, err := server.Step([]byte(clientFirst))
	if err != nil {
		return err
	}
	if done {
		t.Fatal("done after client-first")
	}
	clientFinal, err := client.Step(string(serverFirst))
	if err != nil {
		t.Fatalf("client refused server-first %q: %v", serverFirst, err)
	}
	if tamper != nil {
		clientFinal = tamper(clientFinal)
	}
	serverFinal, done, err := server.Step([]byte(clientFinal))
	if err != nil {
		return err
	}
	if !done {
		t.Fatal("not done after client-final")
	}
	if _, err := client.Step(string(serverFinal)); err != nil {
		t.Fatalf("client refused server-final %q: %v", serverFinal, err)
	}
	if !client.Valid() {
		t.Fatal("client did not validate the server")
	}
	return nil
}

func TestScramExchanges(t *testing.T) {
	for _, mechanism := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		t.Run(mechanism.String(), func(t *testing.T) {
			store := NewMemoryCredentialStore()
			credential, err := NewScramCredential(mechanism, "alice-secret", 0)
			if err != nil {
				t.Fatal(err)
			}
			store.Set(mechanism, "alice", credential)
			odd, err := NewScramCredential(mechanism, "p,w=d", 8192)
			if err != nil {
				t.Fatal(err)
			}
			store.Set(mechanism, "o=dd,user", odd)
			lowIterations := credential
			lowIterations.Iterations = 4095
			store.Set(mechanism, "weak", lowIterations)
			generic := scramGeneric + mechanism.String()

			tests := []struct {
				name                          string
				user, password, authorization string
				tamper                        func(string) string
				wantText                      string // "" for success
			}{
				{name: "good", user: "alice", password: "alice-secret"},
				{name: "authorization id equal to the user", user: "alice", password: "alice-secret", authorization: "alice"},
				{name: "names with ',' and '='", user: "o=dd,user", password: "p,w=d"},
				{name: "wrong password", user: "alice", password: "wrong", wantText: generic},
				{name: "unknown user", user: "bob", password: "alice-secret", wantText: generic},
				{name: "credential under the minimum iterations", user: "weak", password: "alice-secret", wantText: generic},
				{name: "authorization id of another user", user: "alice", password: "alice-secret", authorization: "admin",
					wantText: "Authentication failed: Client requested an authorization id that is different from username"},
				{name: "bad nonce", user: "alice", password: "alice-secret", wantText: generic,
					tamper: func(final string) string { return strings.Replace(final, ",r=", ",r=x", 1) }},
				{name: "bad proof", user: "alice", password: "alice-secret", wantText: generic,
					tamper: func(final string) string {
						at := strings.LastIndex(final, ",p=") + 3
						proof, _ := base64.StdEncoding.DecodeString(final[at:])
						proof[0] ^= 1
						return final[:at] + base64.StdEncoding.EncodeToString(proof)
					}},
				{name: "short proof", user: "alice", password: "alice-secret", wantText: generic,
					tamper: func(final string) string { return final[:strings.LastIndex(final, ",p=")] + ",p=AAAA" }},
				{name: "channel binding changed", user: "alice", password: "alice-secret", wantText: generic,
					tamper: func(final string) string { return strings.Replace(final, "c=biws", "c=eSws", 1) }},
				{name: "no proof", user: "alice", password: "alice-secret", wantText: generic,
					tamper: func(final string) string { return final[:strings.LastIndex(final, ",p=")] }},
			}
			for _, test := range tests {
				t.Run(test.name, func(t *testing.T) {
					server, err := NewScramServer(mechanism, store)
					if err != nil {
						t.Fatal(err)
					}
					err = exchange(t, server, scramClientFor(t, mechanism, test.user, test.password, test.authorization), test.tamper)
					if test.wantText == "" {
						if err != nil {
							t.Fatalf("exchange failed: %v (%s)", err, err.(*AuthenticationError).Detail)
						}
						if got := server.Result(); got.User != test.user || !got.Expiry.IsZero() {
							t.Errorf("Result() = %+v", got)
						}
						if _, _, err := server.Step([]byte("c=biws")); err == nil {
							t.Error("a Step after done succeeded")
						}
						return
					}
					if err == nil {
						t.Fatal("exchange succeeded")
					}
					if !errors.Is(err, ErrAuthenticationFailed) || err.Error() != test.wantText {
						t.Errorf("error %q, want %q", err, test.wantText)
					}
					if detail := err.(*AuthenticationError).Detail; strings.Contains(detail, test.password) {
						t.Errorf("detail %q shows the password", detail)
					}
				})
			}
		})
	}
}

// TestScramRFC7677 replays the SCRAM-SHA-256 example of RFC 7677 section 3.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	saltedPassword, err := pbkdf2.Key(sha256.New, "pencil", salt, 4096, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	credential, err := ScramCredentialFromSaltedPassword(ScramSHA256, salt, saltedPassword, 4096)
	if err != nil {
		t.Fatal(err)
	}
	store := NewMemoryCredentialStore()
	store.Set(ScramSHA256, "user", credential)
	server, err := NewScramServer(ScramSHA256, store)
	if err != nil {
		t.Fatal(err)
	}
	server.(*scramServer).nonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }

	steps := []struct{ client, server string }{
		{"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"},
		{"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
	}
	for i, step := range steps {
		reply, done, err := server.Step([]byte(step.client))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if string(reply) != step.server || done != (i == 1) {
			t.Errorf("step %d: %q, done %v; want %q", i, reply, done, step.server)
		}
	}
}

func TestScramCredentialFromSaltedPasswordMatchesPassword(t *testing.T) {
	for _, test := range []struct {
		mechanism ScramMechanism
		hash      func() hash.Hash
	}{{ScramSHA256, sha256.New}, {ScramSHA512, sha512.New}} {
		fromPassword, err := NewScramCredential(test.mechanism, "s3cret", 4096)
		if err != nil {
			t.Fatal(err)
		}
		saltedPassword, err := pbkdf2.Key(test.hash, "s3cret", fromPassword.Salt, 4096, test.hash().Size())
		if err != nil {
			t.Fatal(err)
		}
		fromSalted, err := ScramCredentialFromSaltedPassword(test.mechanism, fromPassword.Salt, saltedPassword, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if string(fromSalted.StoredKey) != string(fromPassword.StoredKey) || string(fromSalted.ServerKey) != string(fromPassword.ServerKey) {
			t.Errorf("%v: the two constructors disagree", test.mechanism)
		}
	}
}

func TestScramCredentialBounds(t *testing.T) {
	tests := []struct {
		iterations int
		wantError  string
	}{
		{0, ""}, {4096, ""}, {16384, ""},
		{4095, "Too few iterations"}, {16385, "Too many iterations"}, {-1, "Too few iterations"},
	}
	for _, test := range tests {
		credential, err := NewScramCredential(ScramSHA512, "pw", test.iterations)
		if test.wantError == "" {
			if err != nil {
				t.Errorf("iterations %d: %v", test.iterations, err)
			} else if test.iterations == 0 && credential.Iterations != ScramDefaultIterations {
				t.Errorf("default iterations %d", credential.Iterations)
			}
			continue
		}
		if !errors.Is(err, ErrUnacceptableCredential) || !strings.Contains(err.Error(), test.wantError) {
			t.Errorf("iterations %d: error %v", test.iterations, err)
		}
		if _, err := ScramCredentialFromSaltedPassword(ScramSHA512, []byte("salt"), []byte("salted"), test.iterations); !errors.Is(err, ErrUnacceptableCredential) {
			t.Errorf("from salted password, iterations %d: error %v", test.iterations, err)
		}
	}
	if _, err := ScramCredentialFromSaltedPassword(ScramSHA256, nil, []byte("x"), 4096); !errors.Is(err, ErrUnacceptableCredential) {
		t.Errorf("empty salt: %v", err)
	}
	if _, err := ScramCredentialFromSaltedPassword(ScramSHA256, []byte("x"), nil, 4096); !errors.Is(err, ErrUnacceptableCredential) {
		t.Errorf("empty salted password: %v", err)
	}
	if _, err := NewScramCredential(ScramMechanism(3), "pw", 4096); err == nil {
		t.Error("unknown mechanism accepted")
	}
	if _, err := NewScramServer(ScramMechanism(0), NewMemoryCredentialStore()); !errors.Is(err, ErrUnsupportedMechanism) {
		t.Errorf("NewScramServer(0): %v", err)
	}
}

func TestScramClientFirstRefused(t *testing.T) {
	store := NewMemoryCredentialStore()
	credential, _ := NewScramCredential(ScramSHA256, "pw", 4096)
	store.Set(ScramSHA256, "user", credential)
	tests := []struct{ name, message string }{
		{"channel binding required by the client", "p=tls-unique,,n=user,r=abc"},
		{"client supports channel binding", "y,,n=user,r=abc"},
		{"delegation token", "n,,n=user,r=abc,tokenauth=true"},
		{"delegation token, any case", "n,,n=user,r=abc,tokenauth=TRUE"},
		{"mandatory extension", "n,,m=ext,n=user,r=abc"},
		{"bad name escape", "n,,n=us=er,r=abc"},
		{"empty name", "n,,n=,r=abc"},
		{"empty nonce", "n,,n=user,r="},
		{"nonce with a space", "n,,n=user,r=a c"},
		{"non-ASCII name", "n,,n=us\xc3\xa9r,r=abc"},
		{"NUL", "n,,n=user\x00,r=abc"},
		{"bad extension", "n,,n=user,r=abc,1x=y"},
		{"empty extension value", "n,,n=user,r=abc,x="},
		{"trailing comma", "n,,n=user,r=abc,"},
		{"too short", "n,,n=user"},
		{"empty", ""},
		{"bad authorization attribute", "n,b=user,n=user,r=abc"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			server, _ := NewScramServer(ScramSHA256, store)
			reply, done, err := server.Step([]byte(test.message))
			if err == nil || done || reply != nil {
				t.Fatalf("Step = %q, %v, %v", reply, done, err)
			}
			if err.Error() != scramGeneric+"SCRAM-SHA-256" {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestScramClientFirstExtensions(t *testing.T) {
	first, err := parseScramClientFirst([]byte("n,a=a=3Db,n=a=3Db,r=x-y+z,foo=bar=baz,tokenauth=false,foo=last"))
	if err != nil {
		t.Fatal(err)
	}
	if first.user != "a=b" || first.authorizationID != "a=b" || first.nonce != "x-y+z" ||
		first.extensions["foo"] != "last" || first.extensions["tokenauth"] != "false" {
		t.Errorf("%+v", first)
	}
}

type failingStore struct{}

func (failingStore) ScramCredential(ScramMechanism, string) (ScramCredential, bool, error) {
	return ScramCredential{}, false, errors.New("metadata not loaded")
}

func TestScramStoreError(t *testing.T) {
	server, _ := NewScramServer(ScramSHA512, failingStore{})
	_, _, err := server.Step([]byte("n,,n=user,r=abc"))
	if err == nil || err.Error() != scramGeneric+"SCRAM-SHA-512" || !strings.Contains(err.(*AuthenticationError).Detail, "metadata not loaded") {
		t.Errorf("error %v", err)
	}
}

func TestScramClientFinalFormat(t *testing.T) {
	tests := []struct {
		message string
		valid   bool
	}{
		{"c=biws,r=abc,p=AAAA", true},
		{"c=biws,r=abc,ext=v,p=AAAA", true},
		{"c=,r=abc,p=", true},
		{"c=biw,r=abc,p=AAAA", false},
		{"c=biws,r=,p=AAAA", false},
		{"c=biws,r=abc", false},
		{"r=abc,c=biws,p=AAAA", false},
		{"c=biws,r=abc,p=AA=A", false},
		{"c=biws,r=abc,p=AA\nAA", false},
		{"c=biws,r=abc,1=2,p=AAAA", false},
	}
	for _, test := range tests {
		_, err := parseScramClientFinal([]byte(test.message))
		if (err == nil) != test.valid {
			t.Errorf("%q: error %v, want valid %v", test.message, err, test.valid)
		}
	}
}
