package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms a client can log in with, as Kafka names them.
const (
	mechanismPlain       = "PLAIN"
	mechanismScramSha256 = "SCRAM-SHA-256"
	mechanismScramSha512 = "SCRAM-SHA-512"
	mechanismOAuth       = "OAUTHBEARER"
)

var saslMechanisms = []string{mechanismPlain, mechanismScramSha256, mechanismScramSha512, mechanismOAuth}

// securityFlags are the TLS and SASL flags of every client command. Each
// remembers whether it was given, so that a flag given empty (--tls-ca=)
// still wins over its environment variable.
type securityFlags struct {
	tls                                          boolOption
	tlsCA, tlsCert, tlsKey, tlsServerName        option
	tlsInsecure                                  bool
	saslMechanism, saslUser, saslPass, saslToken option
}

func (g *globals) addSecurityFlags(cmd *cobra.Command) {
	s := &g.security
	f := cmd.PersistentFlags()
	f.Var(&s.tls, "tls", "connect over TLS (default $SAMSA_TLS)")
	f.Lookup("tls").NoOptDefVal = "true"
	f.Var(&s.tlsCA, "tls-ca", "trust the CA certificates in this PEM `FILE` instead of the system's (default $SAMSA_TLS_CA)")
	f.Var(&s.tlsCert, "tls-cert", "client certificate PEM `FILE`, for mutual TLS; may hold the key too (default $SAMSA_TLS_CERT)")
	f.Var(&s.tlsKey, "tls-key", "private key PEM `FILE` of --tls-cert (default $SAMSA_TLS_KEY, else the --tls-cert file)")
	f.Var(&s.tlsServerName, "tls-server-name", "`NAME` the broker certificates must be valid for (default $SAMSA_TLS_SERVER_NAME, else each broker's host)")
	f.BoolVar(&s.tlsInsecure, "tls-insecure-skip-verify", false, "do not verify the brokers' certificates (testing only: anyone in the middle can read everything)")
	f.Var(&s.saslMechanism, "sasl-mechanism", "log in with SASL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (default $SAMSA_SASL_MECHANISM)")
	f.Var(&s.saslUser, "sasl-user", "SASL user name for PLAIN and SCRAM (default $SAMSA_SASL_USER)")
	f.Var(&s.saslPass, "sasl-password", "SASL password for PLAIN and SCRAM; prefer $SAMSA_SASL_PASSWORD, which other users cannot see in ps")
	f.Var(&s.saslToken, "sasl-token", "OAUTHBEARER token (a JWT); prefer $SAMSA_SASL_TOKEN, which other users cannot see in ps")
	_ = cmd.RegisterFlagCompletionFunc("sasl-mechanism", cobra.FixedCompletions(saslMechanisms, cobra.ShellCompDirectiveNoFileComp))
	for _, name := range []string{"tls-ca", "tls-cert", "tls-key"} {
		_ = cmd.MarkPersistentFlagFilename(name, "pem", "crt", "key")
	}
}

// option is a string flag that knows whether it was given.
type option struct {
	value string
	set   bool
}

func (o *option) String() string     { return o.value }
func (o *option) Type() string       { return "string" }
func (o *option) Set(v string) error { o.value, o.set = v, true; return nil }

// boolOption is a boolean flag that knows whether it was given.
type boolOption struct {
	value, set bool
}

func (o *boolOption) String() string   { return strconv.FormatBool(o.value) }
func (o *boolOption) Type() string     { return "bool" }
func (o *boolOption) IsBoolFlag() bool { return true }
func (o *boolOption) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	o.value, o.set = b, true
	return nil
}

// setting is one resolved option and where it came from ("--tls-ca" or
// "$SAMSA_TLS_CA"), which is what an error about it names.
type setting struct {
	value, from string
}

func (s setting) given() bool { return s.from != "" }

// setting resolves a flag: the flag if given, else its environment
// variable if not empty.
func (g *globals) setting(o *option, flag, env string) setting {
	if o.set {
		return setting{value: o.value, from: "--" + flag}
	}
	if v := g.env.Getenv(env); v != "" {
		return setting{value: v, from: "$" + env}
	}
	return setting{}
}

// security is how a client connects: TLS or not, SASL or not.
type security struct {
	tls  *tls.Config    // nil: plaintext
	sasl sasl.Mechanism // nil: no SASL
	// login says who the client logs in as, for errors:
	// `SCRAM-SHA-256 as "bob"`. Never a secret.
	login string
}

// opts are the client options that make the connection secure.
func (s *security) opts() []kgo.Opt {
	var opts []kgo.Opt
	if s.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(s.tls))
	}
	if s.sasl != nil {
		opts = append(opts, kgo.SASL(s.sasl))
	}
	return opts
}

// resolveSecurity checks the TLS and SASL flags and environment variables
// together and builds the client's TLS configuration and SASL login. An
// error names the flag (or variable) at fault and never holds a secret.
func (g *globals) resolveSecurity() (*security, error) {
	f := &g.security
	sec := &security{}

	useTLS := f.tls.value
	if !f.tls.set {
		if v := g.env.Getenv("SAMSA_TLS"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("$SAMSA_TLS=%s: want true or false", v)
			}
			useTLS = b
		}
	}
	ca := g.setting(&f.tlsCA, "tls-ca", "SAMSA_TLS_CA")
	cert := g.setting(&f.tlsCert, "tls-cert", "SAMSA_TLS_CERT")
	key := g.setting(&f.tlsKey, "tls-key", "SAMSA_TLS_KEY")
	serverName := g.setting(&f.tlsServerName, "tls-server-name", "SAMSA_TLS_SERVER_NAME")
	if !useTLS {
		for _, s := range []setting{ca, cert, key, serverName} {
			if s.given() && s.value != "" {
				return nil, fmt.Errorf("%s needs --tls (or SAMSA_TLS=true)", s.from)
			}
		}
		if f.tlsInsecure {
			return nil, errors.New("--tls-insecure-skip-verify needs --tls (or SAMSA_TLS=true)")
		}
	} else {
		c, err := clientTLS(ca, cert, key, serverName, f.tlsInsecure)
		if err != nil {
			return nil, err
		}
		sec.tls = c
	}

	mechanism := g.setting(&f.saslMechanism, "sasl-mechanism", "SAMSA_SASL_MECHANISM")
	user := g.setting(&f.saslUser, "sasl-user", "SAMSA_SASL_USER")
	pass := g.setting(&f.saslPass, "sasl-password", "SAMSA_SASL_PASSWORD")
	token := g.setting(&f.saslToken, "sasl-token", "SAMSA_SASL_TOKEN")
	if mechanism.value == "" {
		for _, s := range []setting{user, pass, token} {
			if s.given() && s.value != "" {
				return nil, fmt.Errorf("%s needs --sasl-mechanism (%s)", s.from, strings.Join(saslMechanisms, ", "))
			}
		}
		return sec, nil
	}
	m := strings.ToUpper(strings.TrimSpace(mechanism.value))
	switch m {
	case mechanismPlain, mechanismScramSha256, mechanismScramSha512:
		if token.value != "" {
			return nil, fmt.Errorf("%s is for OAUTHBEARER, not %s %s", token.from, mechanism.from, m)
		}
		if user.value == "" {
			return nil, fmt.Errorf("%s %s needs --sasl-user (or $SAMSA_SASL_USER)", mechanism.from, m)
		}
		if pass.value == "" {
			return nil, fmt.Errorf("%s %s needs --sasl-password (or $SAMSA_SASL_PASSWORD)", mechanism.from, m)
		}
		switch m {
		case mechanismPlain:
			sec.sasl = plain.Auth{User: user.value, Pass: pass.value}.AsMechanism()
		case mechanismScramSha256:
			sec.sasl = scram.Auth{User: user.value, Pass: pass.value}.AsSha256Mechanism()
		default:
			sec.sasl = scram.Auth{User: user.value, Pass: pass.value}.AsSha512Mechanism()
		}
		sec.login = fmt.Sprintf("%s as %q", m, user.value)
	case mechanismOAuth:
		for _, s := range []setting{user, pass} {
			if s.value != "" {
				return nil, fmt.Errorf("%s is not used by %s %s: the token names the principal", s.from, mechanism.from, m)
			}
		}
		if token.value == "" {
			return nil, fmt.Errorf("%s %s needs --sasl-token (or $SAMSA_SASL_TOKEN)", mechanism.from, m)
		}
		sec.sasl = oauth.Auth{Token: token.value}.AsMechanism()
		sec.login = m
	default:
		return nil, fmt.Errorf("%s %s: want %s", mechanism.from, mechanism.value, orList(saslMechanisms))
	}
	return sec, nil
}

// clientTLS builds the TLS configuration of --tls and the --tls-* flags.
func clientTLS(ca, cert, key, serverName setting, insecure bool) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName.value}
	if insecure {
		if ca.value != "" {
			return nil, fmt.Errorf("--tls-insecure-skip-verify and %s contradict each other: verify with the CA, or not at all", ca.from)
		}
		if serverName.value != "" {
			return nil, fmt.Errorf("--tls-insecure-skip-verify and %s contradict each other: a name is only checked when certificates are verified", serverName.from)
		}
		c.InsecureSkipVerify = true
	}
	if ca.value != "" {
		data, err := os.ReadFile(ca.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ca.from, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("%s %s: no PEM certificate in it", ca.from, ca.value)
		}
		c.RootCAs = pool
	}
	if key.value != "" && cert.value == "" {
		return nil, fmt.Errorf("%s needs --tls-cert (or $SAMSA_TLS_CERT)", key.from)
	}
	if cert.value != "" {
		pair, err := loadKeyPair(cert, key)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// loadKeyPair reads the client certificate, its key from key or, when key
// is not given, from the certificate's own file.
func loadKeyPair(cert, key setting) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(cert.value)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", cert.from, err)
	}
	if !hasPEM(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return tls.Certificate{}, fmt.Errorf("%s %s: no PEM certificate in it", cert.from, cert.value)
	}
	keyPEM, files := certPEM, cert.from+" "+cert.value
	if key.value != "" {
		if keyPEM, err = os.ReadFile(key.value); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: %w", key.from, err)
		}
		files = cert.from + " and " + key.from
	}
	if !hasPEM(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		if key.value == "" {
			return tls.Certificate{}, fmt.Errorf("%s %s holds no private key: give it with --tls-key", cert.from, cert.value)
		}
		return tls.Certificate{}, fmt.Errorf("%s %s: no PEM private key in it", key.from, key.value)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's messages name no file; ours do. They never quote
		// the key.
		return tls.Certificate{}, fmt.Errorf("%s: %s", files, strings.TrimPrefix(err.Error(), "tls: "))
	}
	return pair, nil
}

// hasPEM reports whether data holds a PEM block whose type is wanted.
func hasPEM(data []byte, wanted func(string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if wanted(b.Type) {
			return true
		}
	}
}

// orList renders a, b, c or d.
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
