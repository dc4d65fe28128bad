package cli

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

// adminJAAS is the PLAIN login of the secure broker: its own user, admin.
const adminJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";`

// startSecureBroker starts a broker whose one listener is SASL_SSL (PLAIN
// for the JAAS admin, SCRAM-SHA-256/512 for the cluster's users), with dev
// certificates in a temporary directory, and returns its address and that
// directory.
func startSecureBroker(t *testing.T) (addr, certs string) {
	t.Helper()
	certs = t.TempDir()
	if _, err := tlsconf.DevCerts(certs, []string{"127.0.0.1", "localhost"}, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Static: map[string]string{
		"listeners":                                     "SASL_SSL://127.0.0.1:0",
		"sasl.enabled.mechanisms":                       "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol":          "PLAIN",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": adminJAAS,
		"ssl.keystore.location":                         filepath.Join(certs, "server.pem"),
		"ssl.truststore.location":                       filepath.Join(certs, "ca.pem"),
		"group.initial.rebalance.delay.ms":              "0",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.ListenerAddr("SASL_SSL"), certs
}

// TestUsersOverSASLSSL: the PLAIN admin creates SCRAM users over TLS, lists
// them; a SCRAM user given by SAMSA_* variables produces and consumes
// exact records; once deleted, its login fails with one clear line.
func TestUsersOverSASLSSL(t *testing.T) {
	addr, certs := startSecureBroker(t)
	ca := filepath.Join(certs, "ca.pem")
	admin := func(args ...string) []string {
		return append(args, "--tls", "--tls-ca", ca, "--sasl-mechanism", "PLAIN", "--sasl-user", "admin", "--sasl-password", "admin-secret")
	}

	out := ok(t, addr, "bob-secret\n", admin("user", "create", "bob", "--password-stdin", "--mechanism", "scram-sha-512", "--iterations", "8192")...)
	want := "USER  MECHANISM      ITERATIONS  STATUS\nbob   SCRAM-SHA-512  8192        created\n"
	if out != want {
		t.Errorf("user create bob:\n%s", out)
	}
	ok(t, addr, "", admin("user", "create", "carol", "--password", "carol-secret")...)
	out = ok(t, addr, "", admin("user", "create", "carol", "--password", "carol-new")...)
	if want := "USER   MECHANISM      ITERATIONS  STATUS\ncarol  SCRAM-SHA-256  4096        password changed\n"; out != want {
		t.Errorf("user create carol again:\n%s", out)
	}
	if strings.Contains(out, "carol-new") {
		t.Error("the password was printed")
	}

	out = ok(t, addr, "", admin("user", "list")...)
	want = "USER   MECHANISM      ITERATIONS\nbob    SCRAM-SHA-512  8192\ncarol  SCRAM-SHA-256  4096\n"
	if out != want {
		t.Errorf("user list:\n%s", out)
	}
	var listed []userCredential
	if err := json.Unmarshal([]byte(ok(t, addr, "", admin("user", "list", "bob", "--format", "json")...)), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != (userCredential{User: "bob", Mechanism: "SCRAM-SHA-512", Iterations: 8192}) {
		t.Errorf("user list bob --format json: %+v", listed)
	}
	r := samsa(t, addr, "", admin("user", "list", "bob", "nobody")...)
	if r.err == nil || r.err.Error() != "1 of 2 users failed" || !strings.Contains(r.stdout, "nobody  -") || !strings.Contains(r.stdout, "RESOURCE_NOT_FOUND") {
		t.Errorf("user list bob nobody: %v\n%s", r.err, r.stdout)
	}

	ok(t, addr, "", admin("topic", "create", "secrets", "-p", "1")...)
	bob := map[string]string{
		"SAMSA_BROKERS":        addr,
		"SAMSA_TLS":            "true",
		"SAMSA_TLS_CA":         ca,
		"SAMSA_SASL_MECHANISM": "SCRAM-SHA-512",
		"SAMSA_SASL_USER":      "bob",
		"SAMSA_SASL_PASSWORD":  "bob-secret",
	}
	if r := samsaEnv(t, bob, "", "k1:first\nk2:second line\n:third\n", "produce", "secrets", "-K:"); r.err != nil {
		t.Fatalf("produce as bob: %v\n%s", r.err, r.stderr)
	}
	r = samsaEnv(t, bob, "", "", "consume", "secrets", "--exit", "-f", `%k=%v\n`)
	if r.err != nil || r.stdout != "k1=first\nk2=second line\n=third\n" {
		t.Fatalf("consume as bob: %v\n%q", r.err, r.stdout)
	}
	// Flags win over the variables: bob's password is wrong on the flag.
	r = samsaEnv(t, bob, "", "", "topic", "list", "--sasl-password", "guess")
	wantErr := "authentication failed at " + addr + ` (SCRAM-SHA-512 as "bob"): `
	if r.err == nil || !strings.HasPrefix(r.err.Error(), wantErr) {
		t.Errorf("--sasl-password over $SAMSA_SASL_PASSWORD: %v", r.err)
	}

	out = ok(t, addr, "", admin("user", "delete", "bob")...)
	if want := "USER  MECHANISM      STATUS\nbob   SCRAM-SHA-512  deleted\n"; out != want {
		t.Errorf("user delete bob:\n%s", out)
	}
	r = samsaEnv(t, bob, "", "", "consume", "secrets", "--exit")
	if r.err == nil || !strings.HasPrefix(r.err.Error(), wantErr) || strings.Contains(r.err.Error(), "bob-secret") {
		t.Fatalf("consume as deleted bob: %v", r.err)
	}
	t.Logf("deleted user: %v", r.err)
	r = samsa(t, addr, "", admin("user", "delete", "bob", "carol", "--mechanism", "SCRAM-SHA-512")...)
	if r.err == nil || r.err.Error() != "2 of 2 deletions failed" || !strings.Contains(r.stdout, "RESOURCE_NOT_FOUND") {
		t.Errorf("user delete bob carol --mechanism SCRAM-SHA-512: %v\n%s", r.err, r.stdout)
	}
	if got := ok(t, addr, "", admin("user", "list")...); got != "USER   MECHANISM      ITERATIONS\ncarol  SCRAM-SHA-256  4096\n" {
		t.Errorf("user list after delete:\n%s", got)
	}
}

// TestConnectErrors: what a client that gets the listener wrong is told.
func TestConnectErrors(t *testing.T) {
	addr, certs := startSecureBroker(t)
	ca := filepath.Join(certs, "ca.pem")
	other := t.TempDir()
	if _, err := tlsconf.DevCerts(other, []string{"127.0.0.1"}, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	plainAdmin := []string{"--sasl-mechanism", "PLAIN", "--sasl-user", "admin", "--sasl-password", "admin-secret"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong PLAIN password", []string{"--tls", "--tls-ca", ca, "--sasl-mechanism", "PLAIN", "--sasl-user", "admin", "--sasl-password", "guess"},
			"authentication failed at " + addr + ` (PLAIN as "admin"): `},
		{"another CA", append([]string{"--tls", "--tls-ca", filepath.Join(other, "ca.pem")}, plainAdmin...),
			"cannot verify the certificate of " + addr + ": it is signed by an authority this client does not trust (give the cluster's CA with --tls-ca)"},
		{"wrong server name", append([]string{"--tls", "--tls-ca", ca, "--tls-server-name", "kafka.example.com"}, plainAdmin...),
			"the certificate of " + addr + " is not valid for kafka.example.com (it is for localhost, 127.0.0.1; --tls-server-name sets the name to check)"},
		{"no TLS", plainAdmin, addr + " closed the connection at once: does it need --tls?"},
		{"no SASL", []string{"--tls", "--tls-ca", ca}, addr + " closed the connection at once: does it need --sasl-mechanism?"},
		{"mechanism not enabled", []string{"--tls", "--tls-ca", ca, "--sasl-mechanism", "OAUTHBEARER", "--sasl-token", "e30.e30.x"},
			addr + " does not accept --sasl-mechanism OAUTHBEARER: it offers PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := samsa(t, addr, "", append([]string{"topic", "list"}, tc.args...)...)
			if r.err == nil || !strings.HasPrefix(r.err.Error(), tc.want) {
				t.Errorf("got  %v\nwant %s", r.err, tc.want)
			}
			t.Log(r.err)
		})
	}
	// TLS to a PLAINTEXT listener.
	plain := startBroker(t)
	r := samsa(t, plain, "", "topic", "list", "--tls", "--tls-ca", ca)
	if want := plain + " closed the connection at once: is it a TLS listener? (drop --tls for a PLAINTEXT or SASL_PLAINTEXT one)"; r.err == nil || r.err.Error() != want {
		t.Errorf("TLS to PLAINTEXT: %v", r.err)
	}
	r = samsa(t, plain, "", append([]string{"topic", "list"}, plainAdmin...)...)
	if want := plain + " refused the SASL login (ILLEGAL_SASL_STATE): is it a SASL listener? (drop --sasl-mechanism for a PLAINTEXT or SSL one)"; r.err == nil || r.err.Error() != want {
		t.Errorf("SASL to PLAINTEXT: %v", r.err)
	}
	// The insecure flag skips verification: another CA's broker answers.
	ok(t, addr, "", append([]string{"topic", "list", "--tls", "--tls-insecure-skip-verify"}, plainAdmin...)...)
}

// TestSecurityFlagCombinations: what the security flags and variables
// refuse, each message naming the flag or variable at fault, none quoting
// a secret. Nothing is dialed.
func TestSecurityFlagCombinations(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsconf.DevCerts(dir, []string{"127.0.0.1"}, []string{"alice"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	ca, alice := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client-alice.pem")
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--tls-ca", ca}, "--tls-ca needs --tls (or SAMSA_TLS=true)"},
		{nil, []string{"--tls=false", "--tls-cert", alice}, "--tls-cert needs --tls (or SAMSA_TLS=true)"},
		{nil, []string{"--tls-server-name", "x"}, "--tls-server-name needs --tls (or SAMSA_TLS=true)"},
		{nil, []string{"--tls-insecure-skip-verify"}, "--tls-insecure-skip-verify needs --tls (or SAMSA_TLS=true)"},
		{map[string]string{"SAMSA_TLS_CA": ca}, nil, "$SAMSA_TLS_CA needs --tls (or SAMSA_TLS=true)"},
		{map[string]string{"SAMSA_TLS": "yes please"}, nil, "$SAMSA_TLS=yes please: want true or false"},
		{map[string]string{"SAMSA_TLS": "1", "SAMSA_TLS_CA": ca}, []string{"--tls=false"}, "$SAMSA_TLS_CA needs --tls (or SAMSA_TLS=true)"},
		{nil, []string{"--tls", "--tls-key", alice}, "--tls-key needs --tls-cert (or $SAMSA_TLS_CERT)"},
		{nil, []string{"--tls", "--tls-cert", ca}, "--tls-cert " + ca + " holds no private key: give it with --tls-key"},
		{nil, []string{"--tls", "--tls-cert", alice, "--tls-key", ca}, "--tls-key " + ca + ": no PEM private key in it"},
		{nil, []string{"--tls", "--tls-ca", alice + ".missing"}, "--tls-ca: open " + alice + ".missing: no such file or directory"},
		{nil, []string{"--tls", "--tls-ca", filepath.Join(dir, "ca-key.pem")}, "--tls-ca " + filepath.Join(dir, "ca-key.pem") + ": no PEM certificate in it"},
		{nil, []string{"--tls", "--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", alice}, "--tls-cert and --tls-key: private key does not match public key"},
		{nil, []string{"--tls", "--tls-insecure-skip-verify", "--tls-ca", ca}, "--tls-insecure-skip-verify and --tls-ca contradict each other: verify with the CA, or not at all"},
		{nil, []string{"--tls", "--tls-insecure-skip-verify", "--tls-server-name", "a"}, "--tls-insecure-skip-verify and --tls-server-name contradict each other: a name is only checked when certificates are verified"},
		{nil, []string{"--sasl-mechanism", "GSSAPI"}, "--sasl-mechanism GSSAPI: want PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"},
		{nil, []string{"--sasl-user", "bob"}, "--sasl-user needs --sasl-mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"},
		{map[string]string{"SAMSA_SASL_PASSWORD": "hunter2"}, nil, "$SAMSA_SASL_PASSWORD needs --sasl-mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"},
		{nil, []string{"--sasl-mechanism", "PLAIN", "--sasl-password", "hunter2"}, "--sasl-mechanism PLAIN needs --sasl-user (or $SAMSA_SASL_USER)"},
		{map[string]string{"SAMSA_SASL_MECHANISM": "scram-sha-256"}, []string{"--sasl-user", "bob"}, "$SAMSA_SASL_MECHANISM SCRAM-SHA-256 needs --sasl-password (or $SAMSA_SASL_PASSWORD)"},
		{nil, []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "bob", "--sasl-password", "hunter2", "--sasl-token", "hunter2"}, "--sasl-token is for OAUTHBEARER, not --sasl-mechanism SCRAM-SHA-512"},
		{nil, []string{"--sasl-mechanism", "OAUTHBEARER"}, "--sasl-mechanism OAUTHBEARER needs --sasl-token (or $SAMSA_SASL_TOKEN)"},
		{map[string]string{"SAMSA_SASL_PASSWORD": "hunter2"}, []string{"--sasl-mechanism", "OAUTHBEARER", "--sasl-token", "hunter2"}, "$SAMSA_SASL_PASSWORD is not used by --sasl-mechanism OAUTHBEARER: the token names the principal"},
		// bench's clients cannot log in: refused rather than ignored.
		{map[string]string{"SAMSA_TLS": "true"}, []string{"bench", "produce", "-n", "1"}, "samsa bench does not support TLS or SASL yet: drop --tls and --sasl-mechanism (and $SAMSA_TLS, $SAMSA_SASL_MECHANISM) and give a PLAINTEXT listener"},
	} {
		args := tc.args
		if len(args) == 0 || args[0] != "bench" {
			args = append([]string{"topic", "list"}, args...)
		}
		r := samsaEnv(t, tc.env, "127.0.0.1:1", "", args...)
		if r.err == nil || r.err.Error() != tc.want {
			t.Errorf("%v %s:\ngot  %v\nwant %s", tc.env, strings.Join(args, " "), r.err, tc.want)
		}
		if r.err != nil && strings.Contains(r.err.Error(), "hunter2") {
			t.Errorf("%s: the secret is in the error", strings.Join(args, " "))
		}
	}
}

// TestUserCreateRefusals: what user create refuses before it dials.
func TestUserCreateRefusals(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"bob"}, "no password: give --password or --password-stdin"},
		{"p", []string{"bob", "--password", "p", "--password-stdin"}, "--password and --password-stdin: give one"},
		{"", []string{"bob", "--password", ""}, "--password is empty"},
		{"\n", []string{"bob", "--password-stdin"}, "--password-stdin: standard input is empty"},
		{"", []string{"bob", "--password", "p", "--mechanism", "SCRAM-SHA-1"}, "--mechanism SCRAM-SHA-1: want SCRAM-SHA-256 or SCRAM-SHA-512"},
		{"", []string{"bob", "--password", "p", "--iterations", "100"}, "--iterations 100: Kafka accepts 4096 to 16384"},
	} {
		r := samsa(t, "127.0.0.1:1", tc.stdin, append([]string{"user", "create"}, tc.args...)...)
		if r.err == nil || r.err.Error() != tc.want {
			t.Errorf("user create %s:\ngot  %v\nwant %s", strings.Join(tc.args, " "), r.err, tc.want)
		}
	}
	if r := samsa(t, "127.0.0.1:1", "", "user", "delete", "bob", "--mechanism", "md5"); r.err == nil || r.err.Error() != "--mechanism md5: want SCRAM-SHA-256 or SCRAM-SHA-512" {
		t.Errorf("user delete --mechanism md5: %v", r.err)
	}
}

// TestTLSDevCerts: the files samsa tls dev-certs writes start a mutual-TLS
// broker with the configs it prints, and a client with the flags it
// prints (and with the key in a file of its own) talks to it.
func TestTLSDevCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out := ok(t, "", "", "tls", "dev-certs", "--dir", dir, "--host", "127.0.0.1", "--client", "alice", "--valid", "1h")
	for _, name := range []string{"ca.pem", "ca-key.pem", "server.pem", "client-alice.pem"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(name, "key") || name != "ca.pem" {
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s is %v, want 0600", name, fi.Mode().Perm())
			}
		}
		if !strings.Contains(out, filepath.Join(dir, name)) {
			t.Errorf("output does not name %s:\n%s", name, out)
		}
	}
	static := map[string]string{"listeners": "SSL://127.0.0.1:0"}
	for _, line := range strings.Split(out, "\n") {
		name, value, found := strings.Cut(strings.TrimSpace(line), "=")
		if found && strings.HasPrefix(name, "ssl.") {
			static[name], _, _ = strings.Cut(value, " ")
		}
	}
	if static["ssl.keystore.location"] != filepath.Join(dir, "server.pem") || static["ssl.truststore.location"] != filepath.Join(dir, "ca.pem") || static["ssl.client.auth"] != "required" {
		t.Fatalf("printed configs %v:\n%s", static, out)
	}
	if want := "--tls --tls-ca " + filepath.Join(dir, "ca.pem") + " --tls-cert " + filepath.Join(dir, "client-alice.pem"); !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Static: static})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.ListenerAddr("SSL")

	ok(t, addr, "", "topic", "create", "mtls", "-p", "1", "--tls", "--tls-ca", filepath.Join(dir, "ca.pem"), "--tls-cert", filepath.Join(dir, "client-alice.pem"))
	// The certificate and its key in two files.
	certFile, keyFile := splitPEM(t, filepath.Join(dir, "client-alice.pem"))
	env := map[string]string{"SAMSA_TLS": "1", "SAMSA_TLS_CA": filepath.Join(dir, "ca.pem"), "SAMSA_TLS_CERT": certFile, "SAMSA_TLS_KEY": keyFile}
	if r := samsaEnv(t, env, addr, "", "topic", "list"); r.err != nil || !strings.Contains(r.stdout, "mtls") {
		t.Errorf("topic list with $SAMSA_TLS_KEY: %v\n%s", r.err, r.stdout)
	}
	// Without a client certificate the mutual-TLS listener refuses.
	r := samsa(t, addr, "", "topic", "list", "--tls", "--tls-ca", filepath.Join(dir, "ca.pem"))
	if want := addr + " refused the TLS handshake: certificate required (the listener wants a client certificate: give --tls-cert)"; r.err == nil || r.err.Error() != want {
		t.Errorf("no client certificate: %v", r.err)
	}
	t.Logf("no client certificate: %v", r.err)

	r = samsa(t, "", "", "tls", "dev-certs", "--dir", dir)
	if want := dir + " already holds a CA (ca.pem): choose another --dir, or --overwrite to replace it and the certificates it issued"; r.err == nil || r.err.Error() != want {
		t.Errorf("dev-certs again: %v", r.err)
	}
	for args, want := range map[string]string{
		"":                      "--dir is required: the directory to write the certificates into",
		"--dir d --valid -1h":   "--valid -1h0m0s: want a positive duration, such as 8760h",
		"--dir d --client ../x": `--client "../x": want a plain name, such as alice`,
		"--dir d --host ":       "--host: empty host name",
	} {
		r := samsa(t, "", "", append([]string{"tls", "dev-certs"}, strings.Fields(args)...)...)
		if strings.HasSuffix(args, "--host ") {
			r = samsa(t, "", "", "tls", "dev-certs", "--dir", "d", "--host", "")
		}
		if r.err == nil || r.err.Error() != want {
			t.Errorf("dev-certs %s: %v, want %s", args, r.err, want)
		}
	}
}

// splitPEM writes the certificate and the key of a combined PEM file into
// two files.
func splitPEM(t *testing.T, path string) (certFile, keyFile string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var certs, keys []byte
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			keys = append(keys, pem.EncodeToMemory(b)...)
		} else {
			certs = append(certs, pem.EncodeToMemory(b)...)
		}
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certs, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keys, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
