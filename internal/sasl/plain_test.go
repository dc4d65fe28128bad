package sasl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const testPlainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin" password="admin-secret"
    user_admin="admin-secret" user_alice="alice-secret";`

func testPlainUsers(t *testing.T) *PlainUsers {
	t.Helper()
	entries, err := ParseJAASConfig(testPlainJAAS)
	if err != nil {
		t.Fatal(err)
	}
	return NewPlainUsers(entries)
}

func TestPlainServer(t *testing.T) {
	const generic = "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN"
	tests := []struct {
		name     string
		message  string
		wantUser string // "" when the exchange must fail
		wantText string
	}{
		{"good", "\x00alice\x00alice-secret", "alice", ""},
		{"authzid equal to the user", "alice\x00alice\x00alice-secret", "alice", ""},
		{"whatever follows a third NUL is dropped", "\x00alice\x00alice-secret\x00junk", "alice", ""},
		{"authzid of another user", "admin\x00alice\x00alice-secret", "",
			"Authentication failed: Client requested an authorization id that is different from username"},
		{"wrong password", "\x00alice\x00admin-secret", "", "Authentication failed: Invalid username or password"},
		{"unknown user", "\x00mallory\x00alice-secret", "", "Authentication failed: Invalid username or password"},
		{"the broker's own username option is no user", "\x00username\x00admin", "", "Authentication failed: Invalid username or password"},
		{"password prefix", "\x00alice\x00alice-secre", "", "Authentication failed: Invalid username or password"},
		{"empty user", "\x00\x00alice-secret", "", generic},
		{"empty password", "\x00alice\x00", "", generic},
		{"no NUL", "alice", "", generic},
		{"one NUL", "\x00alice", "", generic},
		{"empty message", "", "", generic},
	}
	users := testPlainUsers(t)
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			server := NewPlainServer(users)
			reply, done, err := server.Step([]byte(test.message))
			if test.wantUser != "" {
				if err != nil || !done || len(reply) != 0 {
					t.Fatalf("Step = %q, %v, %v; want success", reply, done, err)
				}
				if got := server.Result(); got.User != test.wantUser || got.Principal() != "User:"+test.wantUser || !got.Expiry.IsZero() {
					t.Errorf("Result() = %+v", got)
				}
				return
			}
			if err == nil || done {
				t.Fatalf("Step = %q, %v, %v; want failure", reply, done, err)
			}
			if !errors.Is(err, ErrAuthenticationFailed) {
				t.Errorf("%v is not ErrAuthenticationFailed", err)
			}
			if err.Error() != test.wantText {
				t.Errorf("error %q, want %q", err, test.wantText)
			}
			var authenticationError *AuthenticationError
			if !errors.As(err, &authenticationError) {
				t.Fatalf("%T is not *AuthenticationError", err)
			}
			for _, text := range []string{err.Error(), authenticationError.Detail} {
				if strings.Contains(text, "secret") {
					t.Errorf("%q shows a password", text)
				}
			}
			if !reflect.DeepEqual(server.Result(), Result{}) {
				t.Errorf("Result() = %+v after a failure", server.Result())
			}
		})
	}
}

func TestPlainServerOneStep(t *testing.T) {
	server := NewPlainServer(testPlainUsers(t))
	if _, done, err := server.Step([]byte("\x00alice\x00alice-secret")); err != nil || !done {
		t.Fatal(done, err)
	}
	if _, _, err := server.Step([]byte("\x00alice\x00alice-secret")); err == nil {
		t.Error("a second Step succeeded")
	}
}

type failingVerifier struct{}

func (failingVerifier) VerifyPlain(string, string) (bool, error) {
	return false, errors.New("store down")
}

func TestPlainServerVerifierError(t *testing.T) {
	_, _, err := NewPlainServer(failingVerifier{}).Step([]byte("\x00alice\x00pw"))
	if err == nil || err.Error() != "Authentication failed: credentials for user could not be verified" {
		t.Errorf("error %v", err)
	}
	if got := err.(*AuthenticationError).ClientMessage(true); got != "Authentication failed: credentials for user could not be verified" {
		t.Errorf("ClientMessage(true) = %q", got)
	}
}

func TestPlainUsersOnlyPlainLoginModule(t *testing.T) {
	entries, err := ParseJAASConfig(`com.example.Other required user_bob="bob-secret";
		org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="first";
		org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="second";`)
	if err != nil {
		t.Fatal(err)
	}
	users := NewPlainUsers(entries)
	for _, test := range []struct {
		user, password string
		want           bool
	}{{"bob", "bob-secret", false}, {"alice", "first", true}, {"alice", "second", false}} {
		if got, _ := users.VerifyPlain(test.user, test.password); got != test.want {
			t.Errorf("VerifyPlain(%q, %q) = %v", test.user, test.password, got)
		}
	}
}

func TestGenericMessageOnReauthentication(t *testing.T) {
	_, _, err := NewPlainServer(testPlainUsers(t)).Step(nil)
	var authenticationError *AuthenticationError
	if !errors.As(err, &authenticationError) {
		t.Fatal(err)
	}
	const want = "Authentication failed during re-authentication due to invalid credentials with SASL mechanism PLAIN"
	if got := authenticationError.ClientMessage(true); got != want {
		t.Errorf("ClientMessage(true) = %q", got)
	}
}
