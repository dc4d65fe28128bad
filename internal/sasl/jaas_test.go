package sasl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseJAASConfig(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []JAASEntry
	}{
		{
			name: "Kafka's PLAIN broker example",
			text: `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`,
			want: []JAASEntry{{LoginModule: PlainLoginModule, Flag: Required, Options: map[string]string{
				"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": "alice-secret",
			}}},
		},
		{
			name: "no options, flag in any case",
			text: "  com.example.Module Sufficient ;",
			want: []JAASEntry{{LoginModule: "com.example.Module", Flag: Sufficient, Options: map[string]string{}}},
		},
		{
			name: "two entries over lines",
			text: "a.A required\n  x=1;\r\nb.B optional y='two words';",
			want: []JAASEntry{
				{LoginModule: "a.A", Flag: Required, Options: map[string]string{"x": "1"}},
				{LoginModule: "b.B", Flag: Optional, Options: map[string]string{"y": "two words"}},
			},
		},
		{
			name: "unquoted words run up to whitespace, ';' or '='",
			text: `m requisite key=value-with.dots:and@signs;`,
			want: []JAASEntry{{LoginModule: "m", Flag: Requisite, Options: map[string]string{"key": "value-with.dots:and@signs"}}},
		},
		{
			name: "Java's escapes in quotes",
			text: `m required a="q\"uote" b="back\\slash" c="tab\tnl\n" d="\101\0619" e='it\'s' f="\x";`,
			want: []JAASEntry{{LoginModule: "m", Flag: Required, Options: map[string]string{
				"a": `q"uote`, "b": `back\slash`, "c": "tab\tnl\n", "d": "A19", "e": "it's", "f": "x",
			}}},
		},
		{
			name: "quote closed by the line end",
			text: "m required a=\"open\n b=c;",
			want: []JAASEntry{{LoginModule: "m", Flag: Required, Options: map[string]string{"a": "open", "b": "c"}}},
		},
		{
			name: "comments",
			text: "/* the broker */ m required // users follow\n user_a=\"x\" /* inline */ ;",
			want: []JAASEntry{{LoginModule: "m", Flag: Required, Options: map[string]string{"user_a": "x"}}},
		},
		{
			name: "a lone slash comments out the rest of the line",
			text: "m required a=b /c=d\n;",
			want: []JAASEntry{{LoginModule: "m", Flag: Required, Options: map[string]string{"a": "b"}}},
		},
		{
			name: "a repeated key keeps the last value",
			text: "m required a=1 a=2;",
			want: []JAASEntry{{LoginModule: "m", Flag: Required, Options: map[string]string{"a": "2"}}},
		},
		{
			name: "non-ASCII is word text",
			text: "m required usér=pässwörd;",
			want: []JAASEntry{{LoginModule: "m", Flag: Required, Options: map[string]string{"usér": "pässwörd"}}},
		},
		{
			name: "empty quoted value",
			text: `m required a="";`,
			want: []JAASEntry{{LoginModule: "m", Flag: Required, Options: map[string]string{"a": ""}}},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := ParseJAASConfig(test.text)
			if err != nil {
				t.Fatalf("ParseJAASConfig: %v", err)
			}
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("got %#v\nwant %#v", got, test.want)
			}
		})
	}
}

func TestParseJAASConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"empty", "", "Login module not specified in JAAS config"},
		{"only a comment", "/* nothing */", "Login module not specified in JAAS config"},
		{"no flag", "m", "Login module control flag not specified in JAAS config"},
		{"flag is ';'", "m ;", "Login module control flag is not available in the JAAS config"},
		{"bad flag", "m mandatory;", "Invalid login module control flag 'mandatory' in JAAS config"},
		{"no '='", `m required password "secret-value";`, "Value not specified for key 'password' in JAAS config"},
		{"no value", "m required password=;", "Value not specified for key 'password' in JAAS config"},
		{"value at the end", "m required password=", "Value not specified for key 'password' in JAAS config"},
		{"no semicolon", `m required password="secret-value"`, "JAAS config entry not terminated by semi-colon"},
		{"missing key", "m required ==secret-value;", "Option name not specified in JAAS config"},
		{"module is ';'", "; required;", "Login module name not specified in JAAS config"},
		{"empty module name", `"" required;`, "Login module name not specified in JAAS config"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := ParseJAASConfig(test.text)
			if err == nil {
				t.Fatal("ParseJAASConfig succeeded")
			}
			if !errors.Is(err, ErrJAASConfig) {
				t.Errorf("error %v is not ErrJAASConfig", err)
			}
			if got := strings.TrimPrefix(err.Error(), "sasl: "); got != test.want {
				t.Errorf("error %q, want %q", got, test.want)
			}
			if strings.Contains(err.Error(), "secret-value") {
				t.Errorf("error %q shows a value", err)
			}
		})
	}
}

func TestParseJAASEntry(t *testing.T) {
	entry, err := ParseJAASEntry(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";`)
	if err != nil {
		t.Fatal(err)
	}
	user, password, ok := entry.Credentials()
	if !ok || user != "admin" || password != "admin-secret" {
		t.Errorf("Credentials() = %q, %q, %v", user, password, ok)
	}
	if _, err := ParseJAASEntry("a required; b required;"); err == nil ||
		!strings.Contains(err.Error(), "JAAS config property contains 2 login modules, should be 1 module") {
		t.Errorf("two modules: %v", err)
	}
	if _, _, ok := (JAASEntry{Options: map[string]string{"username": "a"}}).Credentials(); ok {
		t.Error("Credentials() ok without a password")
	}
}
