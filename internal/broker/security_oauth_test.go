package broker_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// oauthKey is an RSA key that signs JWTs with its key id.
type oauthKey struct {
	private *rsa.PrivateKey
	id      string
}

func newOAuthKey(t *testing.T, id string) oauthKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return oauthKey{k, id}
}

// sign returns a compact RS256 JWT of claims.
func (k oauthKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.private, KeyID: k.id}},
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

// writeJWKS writes the public keys as a JWKS document to file.
func writeJWKS(t *testing.T, file string, keys ...oauthKey) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.private.PublicKey, KeyID: k.id, Algorithm: "RS256", Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityOAuthBearer: a SASL_SSL listener enabling only OAUTHBEARER
// checks tokens against a JWKS file with the expected issuer and audience.
// A franz-go client with a good token produces and consumes; an expired
// token, one signed by a key outside the JWKS (under a key id it has),
// one for another audience and one from another issuer are answered as
// Kafka answers them: the invalid_token challenge, then
// SASL_AUTHENTICATION_FAILED (franz-go stops at the challenge); PLAIN, not enabled there, is refused with
// UNSUPPORTED_SASL_MECHANISM.
func TestSecurityOAuthBearer(t *testing.T) {
	dir := devCerts(t)
	key := newOAuthKey(t, "samsa-test-1")
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, jwks, key)
	const issuer, audience = "https://issuer.test", "samsa"
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Static: map[string]string{
		"listeners":                                      "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"listener.security.protocol.map":                 "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
		"inter.broker.listener.name":                     "PLAINTEXT",
		"ssl.keystore.location":                          filepath.Join(dir, "server.pem"),
		"ssl.truststore.location":                        filepath.Join(dir, "ca.pem"),
		"listener.name.sasl_ssl.sasl.enabled.mechanisms": "OAUTHBEARER",
		"sasl.oauthbearer.jwks.endpoint.url":             "file://" + jwks,
		"sasl.oauthbearer.expected.issuer":               issuer,
		"sasl.oauthbearer.expected.audience":             audience,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	addr := b.ListenerAddr("SASL_SSL")
	tlsCfg := clientTLS(t, dir, "")
	ctx := ctxT(t)
	now := time.Now()
	claims := func(change map[string]any) map[string]any {
		c := map[string]any{"sub": "svc-orders", "iss": issuer, "aud": audience, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		for k, v := range change {
			c[k] = v
		}
		return c
	}

	const topic = "oauth"
	createTopic(t, kadmClient(t, b.ListenerAddr("PLAINTEXT")), topic, 1, nil)
	cl := saslClient(t, addr, kgo.DialTLSConfig(tlsCfg), kgo.SASL(oauth.Auth{Token: key.sign(t, claims(nil))}.AsMechanism()),
		kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	want := secureValues(topic, 20)
	for i, v := range want {
		r, err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).First()
		if err != nil {
			t.Fatal(err)
		}
		if r.Offset != int64(i) {
			t.Fatalf("record %d at offset %d", i, r.Offset)
		}
	}
	var got []string
	for len(got) < len(want) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	checkValues(t, "franz-go over OAUTHBEARER", got, want)

	stranger := newOAuthKey(t, key.id) // the JWKS's key id, another key
	for _, tc := range []struct {
		name, token string
	}{
		{"expired token", key.sign(t, claims(map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(-10 * time.Minute).Unix()}))},
		{"signed by another key", stranger.sign(t, claims(nil))},
		{"another audience", key.sign(t, claims(map[string]any{"aud": "someone-else"}))},
		{"another issuer", key.sign(t, claims(map[string]any{"iss": "https://elsewhere.test"}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Kafka's OAuthBearerSaslServer answers a bad token with the
			// challenge {"status":"invalid_token"} (RFC 7628 section 3.2.2),
			// which franz-go's client does not answer: it stops there.
			c := saslClient(t, addr, kgo.DialTLSConfig(tlsCfg), kgo.SASL(oauth.Auth{Token: tc.token}.AsMechanism()), kgo.RequestRetries(0))
			if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c); err == nil || err.Error() != "unexpected data in oauth response" {
				t.Fatalf("franz-go: %v, want its refusal of the invalid_token challenge", err)
			}
			// The whole exchange on the wire, as Kafka's Java client
			// completes it: the client's %x01 is answered
			// SASL_AUTHENTICATION_FAILED.
			conn, err := tlsDialRaw(addr, tlsCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			hs := kmsg.NewPtrSASLHandshakeRequest()
			hs.Version, hs.Mechanism = 1, "OAUTHBEARER"
			if r, err := rawRequest(conn, hs); err != nil || r.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
				t.Fatalf("handshake: %+v %v", r, err)
			}
			auth := kmsg.NewPtrSASLAuthenticateRequest()
			auth.Version = 2
			auth.SASLAuthBytes = []byte("n,,\x01auth=Bearer " + tc.token + "\x01\x01")
			r, err := rawRequest(conn, auth)
			if err != nil {
				t.Fatal(err)
			}
			if ar := r.(*kmsg.SASLAuthenticateResponse); ar.ErrorCode != 0 || string(ar.SASLAuthBytes) != `{"status":"invalid_token"}` {
				t.Fatalf("token answered %+v (%q), want the invalid_token challenge", ar, ar.SASLAuthBytes)
			}
			auth.SASLAuthBytes = []byte{1}
			if r, err = rawRequest(conn, auth); err != nil {
				t.Fatal(err)
			}
			if ar := r.(*kmsg.SASLAuthenticateResponse); ar.ErrorCode != kerr.SaslAuthenticationFailed.Code {
				t.Fatalf("after %%x01: %+v, want SASL_AUTHENTICATION_FAILED", ar)
			}
		})
	}
	t.Run("PLAIN not enabled", func(t *testing.T) {
		c, err := tlsDialRaw(addr, tlsCfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "PLAIN"
		r, err := rawRequest(c, hs)
		if err != nil {
			t.Fatal(err)
		}
		if hr := r.(*kmsg.SASLHandshakeResponse); hr.ErrorCode != kerr.UnsupportedSaslMechanism.Code ||
			len(hr.SupportedMechanisms) != 1 || hr.SupportedMechanisms[0] != "OAUTHBEARER" {
			t.Fatalf("PLAIN handshake: %+v", hr)
		}
	})
	// The good client still works after the refusals.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
}
