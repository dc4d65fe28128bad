package sasl

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func checkStepError(t *testing.T, err error) {
	t.Helper()
	var authenticationError *AuthenticationError
	if !errors.As(err, &authenticationError) || !errors.Is(err, ErrAuthenticationFailed) {
		t.Fatalf("Step error %T %v is not an *AuthenticationError", err, err)
	}
}

func FuzzPlain(f *testing.F) {
	for _, seed := range []string{
		"\x00alice\x00alice-secret", "alice\x00alice\x00alice-secret", "admin\x00alice\x00alice-secret",
		"\x00alice\x00wrong", "\x00\x00", "", "\x00alice\x00alice-secret\x00tail", "\xff\x00\xfe\x00\xfd",
	} {
		f.Add([]byte(seed))
	}
	entries, err := ParseJAASConfig(testPlainJAAS)
	if err != nil {
		f.Fatal(err)
	}
	users := NewPlainUsers(entries)
	f.Fuzz(func(t *testing.T, message []byte) {
		server := NewPlainServer(users)
		reply, done, err := server.Step(message)
		if err != nil {
			checkStepError(t, err)
			if done || reply != nil {
				t.Fatalf("failed Step returned %q, %v", reply, done)
			}
			return
		}
		authorizationID, user, password := splitPlain(message)
		valid, _ := users.VerifyPlain(user, password)
		if !done || len(reply) != 0 || !valid || (authorizationID != "" && authorizationID != user) || server.Result().User != user {
			t.Fatalf("accepted %q as %+v", message, server.Result())
		}
		if _, _, err := server.Step(message); err == nil {
			t.Fatal("second Step succeeded")
		}
	})
}

func FuzzScramServer(f *testing.F) {
	const nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	f.Add([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"),
		[]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO"+nonce+",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	f.Add([]byte("n,a=user,n=user,r=abc,ext=1"), []byte("c=bixhPXVzZXIs,r=abc"+nonce+",x=y,p=AAAA"))
	f.Add([]byte("p=tls-unique,,n=user,r=abc"), []byte("c=,r=,p="))
	f.Add([]byte("n,,n=u=2Cs=3Der,r=abc,tokenauth=true"), []byte(""))

	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	saltedPassword, err := pbkdf2.Key(sha256.New, "pencil", salt, 4096, sha256.Size)
	if err != nil {
		f.Fatal(err)
	}
	credential, err := ScramCredentialFromSaltedPassword(ScramSHA256, salt, saltedPassword, 4096)
	if err != nil {
		f.Fatal(err)
	}
	store := NewMemoryCredentialStore()
	store.Set(ScramSHA256, "user", credential)
	store.Set(ScramSHA256, "u,s=er", credential)

	f.Fuzz(func(t *testing.T, clientFirst, clientFinal []byte) {
		server, err := NewScramServer(ScramSHA256, store)
		if err != nil {
			t.Fatal(err)
		}
		server.(*scramServer).nonce = func() string { return nonce }
		serverFirst, done, err := server.Step(clientFirst)
		if err != nil {
			checkStepError(t, err)
			return
		}
		if done || !strings.HasPrefix(string(serverFirst), "r=") || !strings.Contains(string(serverFirst), nonce+",s=") {
			t.Fatalf("server-first %q, done %v", serverFirst, done)
		}
		serverFinal, done, err := server.Step(clientFinal)
		if err != nil {
			checkStepError(t, err)
			return
		}
		if !done || !strings.HasPrefix(string(serverFinal), "v=") {
			t.Fatalf("server-final %q, done %v", serverFinal, done)
		}
		if user := server.Result().User; user != "user" && user != "u,s=er" {
			t.Fatalf("authenticated %q", user)
		}
	})
}

func FuzzOAuthBearerInitialResponse(f *testing.F) {
	for _, seed := range []string{
		"n,,\x01auth=Bearer abc.def.ghi\x01\x01",
		"n,a=alice,\x01auth=bearer   t\x01traceId=x y=z\x01\x01",
		"n,,\x01k=1\x01auth=BEARER t\x01k=2\x01\x01",
		"n,,\x01auth=Basic x\x01\x01", "\x01", "",
	} {
		f.Add([]byte(seed))
	}
	validator := fixedValidator{token: Token{Principal: "alice"}}
	f.Fuzz(func(t *testing.T, message []byte) {
		response, err := ParseInitialResponse(message)

		server := NewOAuthBearerServer(validator)
		_, done, stepErr := server.Step(message)
		if stepErr != nil {
			checkStepError(t, stepErr)
		}
		if err != nil {
			if stepErr == nil {
				t.Fatalf("server accepted %q that does not parse", message)
			}
			return
		}
		if done != (response.AuthorizationID == "" || response.AuthorizationID == "alice") {
			t.Fatalf("done %v for %+v", done, response)
		}

		// What parses, written the way Kafka's client writes it, parses to
		// the same.
		var rewritten strings.Builder
		rewritten.WriteString("n,")
		if response.AuthorizationID != "" {
			rewritten.WriteString("a=" + response.AuthorizationID)
		}
		rewritten.WriteString(",\x01auth=Bearer " + response.Token)
		for _, key := range slices.Sorted(maps.Keys(response.Extensions)) {
			rewritten.WriteString("\x01" + key + "=" + response.Extensions[key])
		}
		rewritten.WriteString("\x01\x01")
		again, err := ParseInitialResponse([]byte(rewritten.String()))
		if err != nil || !reflect.DeepEqual(again, response) {
			t.Fatalf("%q parsed as %+v, rewritten as %q: %+v, %v", message, response, rewritten.String(), again, err)
		}
	})
}

func FuzzJAASConfig(f *testing.F) {
	for _, seed := range []string{
		testPlainJAAS,
		`m required a="q\"uote" b='it\'s' c="\101\0619" d=plain;`,
		"/* c */ m optional // x\n k=v; n sufficient;",
		"m required a=\"open\n b=c;",
		"m required ==x;", "; required;", "m", "",
		"m required a=b /c=d\n;", "/*\n*/ m requisite;",
	} {
		f.Add(seed)
	}
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := ParseJAASConfig(text)
		if err != nil {
			if !errors.Is(err, ErrJAASConfig) {
				t.Fatalf("error %v is not ErrJAASConfig", err)
			}
			return
		}
		var rewritten strings.Builder
		for _, entry := range entries {
			if entry.LoginModule == "" {
				t.Fatal("empty login module")
			}
			switch entry.Flag {
			case Required, Requisite, Sufficient, Optional:
			default:
				t.Fatalf("flag %q", entry.Flag)
			}
			rewritten.WriteString(`"` + quote.Replace(entry.LoginModule) + `" ` + string(entry.Flag))
			for _, key := range slices.Sorted(maps.Keys(entry.Options)) {
				rewritten.WriteString(` "` + quote.Replace(key) + `"="` + quote.Replace(entry.Options[key]) + `"`)
			}
			rewritten.WriteString(";\n")
		}
		again, err := ParseJAASConfig(rewritten.String())
		if err != nil || !reflect.DeepEqual(again, entries) {
			t.Fatalf("%q parsed as %#v, rewritten as %q: %#v, %v", text, entries, rewritten.String(), again, err)
		}
	})
}
