package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// connectError turns the failure of a client's first contact into one
// line that says what went wrong and, where the cause is a usual mistake,
// which flag fixes it. It never quotes a secret: franz-go's SASL errors
// hold the broker's message, not the password.
func connectError(seeds []string, sec *security, err error) error {
	at := strings.Join(seeds, ",")
	var (
		firstEOF    *kgo.ErrFirstReadEOF
		unknownCA   x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		notTLS      tls.RecordHeaderError
		verifyError *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("authentication failed at %s (%s): %s", at, sec.login, brokerMessage(err, kerr.SaslAuthenticationFailed))
	case errors.Is(err, kerr.UnsupportedSaslMechanism):
		m, _, _ := strings.Cut(sec.login, " ")
		if offered := offeredMechanisms(seeds, sec, m); len(offered) > 0 {
			return fmt.Errorf("%s does not accept --sasl-mechanism %s: it offers %s", at, m, strings.Join(offered, ", "))
		}
		return fmt.Errorf("%s does not accept --sasl-mechanism %s: %s", at, m, brokerMessage(err, kerr.UnsupportedSaslMechanism))
	case errors.Is(err, kerr.IllegalSaslState) && sec.sasl != nil:
		return fmt.Errorf("%s refused the SASL login (ILLEGAL_SASL_STATE): is it a SASL listener? (drop --sasl-mechanism for a PLAINTEXT or SSL one)", at)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("cannot verify the certificate of %s: it is signed by an authority this client does not trust (give the cluster's CA with --tls-ca)", at)
	case errors.As(err, &hostname):
		return fmt.Errorf("the certificate of %s is not valid for %s (%s; --tls-server-name sets the name to check)", at, hostname.Host, hostnameCause(hostname))
	case errors.As(err, &invalid):
		return fmt.Errorf("the certificate of %s is not valid: %s", at, strings.TrimPrefix(invalid.Error(), "x509: "))
	case errors.As(err, &verifyError):
		return fmt.Errorf("cannot verify the certificate of %s: %s", at, strings.TrimPrefix(verifyError.Err.Error(), "x509: "))
	case errors.As(err, &notTLS):
		return fmt.Errorf("%s does not speak TLS: drop --tls for a PLAINTEXT or SASL_PLAINTEXT listener", at)
	case errors.As(err, &firstEOF):
		return fmt.Errorf("%s closed the connection at once: %s", at, firstEOFHint(firstEOF, sec))
	}
	// An alert the broker sent is crypto/tls's unexported alert type
	// inside a net.OpError "remote error: tls: ...".
	if _, alert, found := strings.Cut(err.Error(), "remote error: tls: "); found && sec.tls != nil {
		return fmt.Errorf("%s refused the TLS handshake: %s%s", at, alert, alertHint(alert, sec))
	}
	return unreachable(seeds, err)
}

// offeredMechanisms asks the listener which SASL mechanisms it enables:
// franz-go keeps SaslHandshake's list to itself, and a SaslHandshake is one
// of the requests a SASL listener answers before a login. Nil if it cannot
// say within a few seconds.
func offeredMechanisms(seeds []string, sec *security, mechanism string) []string {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DialTimeout(3 * time.Second), kgo.RequestRetries(0)}
	if sec.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(sec.tls))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Mechanism = mechanism
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil
	}
	return resp.SupportedMechanisms
}

// brokerMessage is the broker's message of a Kafka error, without the
// code's name and description that franz-go puts before it.
func brokerMessage(err error, code *kerr.Error) string {
	s := err.Error()
	if i := strings.Index(s, code.Error()); i >= 0 {
		s = s[i+len(code.Error()):]
		s = strings.TrimPrefix(s, ": ")
	}
	if s == "" {
		return code.Message
	}
	return s
}

func hostnameCause(e x509.HostnameError) string {
	c := e.Certificate
	if c == nil {
		return "it names other hosts"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "it names no hosts"
	}
	return "it is for " + strings.Join(names, ", ")
}

func alertHint(msg string, sec *security) string {
	if strings.Contains(msg, "certificate required") || (strings.Contains(msg, "bad certificate") && len(sec.tls.Certificates) == 0) {
		return " (the listener wants a client certificate: give --tls-cert)"
	}
	return ""
}

// firstEOFHint guesses, from franz-go's guess, what the listener wanted.
// Which read saw EOF is only in ErrFirstReadEOF's message.
func firstEOFHint(e *kgo.ErrFirstReadEOF, sec *security) string {
	msg := e.Error()
	switch {
	case sec.tls != nil && strings.Contains(msg, "immediately after a dial"):
		return "is it a TLS listener? (drop --tls for a PLAINTEXT or SASL_PLAINTEXT one)"
	case sec.sasl == nil && strings.Contains(msg, "after a request was issued"):
		return "does it need --sasl-mechanism?"
	case sec.tls == nil && sec.sasl == nil:
		return "does it need --tls or --sasl-mechanism?"
	case sec.tls == nil:
		return "does it need --tls?"
	case sec.sasl == nil:
		return "does it need --sasl-mechanism?"
	}
	return "are --tls and --sasl-mechanism what the listener expects?"
}
