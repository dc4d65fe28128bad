package broker_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// plainJAAS is the PLAIN login of the SASL tests: the broker's own user
// and the PLAIN users.
const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// startSASL starts a broker with a SASL_PLAINTEXT listener (PLAIN and both
// SCRAMs) beside a PLAINTEXT one, and extra configs.
func startSASL(t *testing.T, extra map[string]string) *broker.Broker {
	t.Helper()
	static := map[string]string{
		"listeners":                                           "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.enabled.mechanisms":                             "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol":                "PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config": plainJAAS,
		"inter.broker.listener.name":                          "PLAINTEXT",
	}
	for k, v := range extra {
		static[k] = v
	}
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Static: static})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func saslClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestSASLPlainAndScram: a PLAIN user (from the JAAS config) creates SCRAM
// users with AlterUserScramCredentials; those users then produce and
// consume over SCRAM-SHA-256 and -512; DescribeUserScramCredentials shows
// mechanisms and iterations; a wrong password, an unknown user and a
// deleted credential are answered SASL_AUTHENTICATION_FAILED.
func TestSASLPlainAndScram(t *testing.T) {
	b := startSASL(t, nil)
	addr := b.ListenerAddr("SASL_PLAINTEXT")
	ctx := ctxT(t)
	admin := kadm.NewClient(saslClient(t, addr, kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())))
	altered, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-secret"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "carol-secret"},
		{User: "weak", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range altered {
		if a.Err != nil {
			t.Fatalf("alter %s: %v", a.User, a.Err)
		}
	}
	// Kafka's refusals, each for its user alone.
	resp, err := (&kmsg.AlterUserSCRAMCredentialsRequest{
		Deletions: []kmsg.AlterUserSCRAMCredentialsRequestDeletion{{Name: "nobody", Mechanism: 1}, {Name: "dup", Mechanism: 1}},
		Upsertions: []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
			{Name: "few", Mechanism: 1, Iterations: 100, Salt: []byte("s"), SaltedPassword: []byte("p")},
			{Name: "dup", Mechanism: 2, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")},
			{Name: "odd", Mechanism: 3, Iterations: 4096, Salt: []byte("s"), SaltedPassword: []byte("p")},
		},
	}).RequestWith(ctx, saslClient(t, addr, kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, r := range resp.Results {
		codes[r.User] = r.ErrorCode
	}
	want := map[string]int16{"nobody": kerr.ResourceNotFound.Code, "dup": kerr.DuplicateResource.Code, "few": kerr.UnacceptableCredential.Code, "odd": kerr.UnsupportedSaslMechanism.Code}
	for u, c := range want {
		if codes[u] != c {
			t.Errorf("alter %s: code %d, want %d", u, codes[u], c)
		}
	}
	described, err := admin.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := described["carol"]; len(d.CredInfos) != 1 || d.CredInfos[0].Mechanism != kadm.ScramSha512 || d.CredInfos[0].Iterations != 8192 {
		t.Fatalf("carol described %+v", d)
	}
	if len(described) != 3 {
		t.Fatalf("described %v", described)
	}

	for _, tc := range []struct {
		user string
		mech kgo.Opt
	}{
		{"bob", kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha256Mechanism())},
		{"carol", kgo.SASL(scram.Auth{User: "carol", Pass: "carol-secret"}.AsSha512Mechanism())},
		{"alice", kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())},
	} {
		topic := "t-" + tc.user
		cl := saslClient(t, addr, tc.mech, kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.AllowAutoTopicCreation())
		for i := range 3 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(tc.user + strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatalf("%s produce: %v", tc.user, err)
			}
		}
		var got []string
		for len(got) < 3 {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("%s consume: %v", tc.user, err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		if got[0] != tc.user+"0" || got[2] != tc.user+"2" {
			t.Fatalf("%s consumed %q", tc.user, got)
		}
	}

	if _, err := admin.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "weak", Mechanism: kadm.ScramSha256}}, nil); err != nil {
		t.Fatal(err)
	}
	for name, mech := range map[string]kgo.Opt{
		"wrong SCRAM password": kgo.SASL(scram.Auth{User: "bob", Pass: "guess"}.AsSha256Mechanism()),
		"wrong mechanism":      kgo.SASL(scram.Auth{User: "bob", Pass: "bob-secret"}.AsSha512Mechanism()),
		"deleted credential":   kgo.SASL(scram.Auth{User: "weak", Pass: "x"}.AsSha256Mechanism()),
		"wrong PLAIN password": kgo.SASL(plain.Auth{User: "alice", Pass: "guess"}.AsMechanism()),
		"unknown PLAIN user":   kgo.SASL(plain.Auth{User: "mallory", Pass: "x"}.AsMechanism()),
	} {
		t.Run(name, func(t *testing.T) {
			cl := saslClient(t, addr, mech, kgo.RequestRetries(0))
			_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("error %v, want SASL_AUTHENTICATION_FAILED", err)
			}
		})
	}
}

// TestSASLUnauthenticated: on a SASL listener a request other than
// ApiVersions and SASL's own closes the connection unanswered, and the
// SASL requests on a PLAINTEXT listener answer ILLEGAL_SASL_STATE.
func TestSASLUnauthenticated(t *testing.T) {
	b := startSASL(t, nil)
	ctx := ctxT(t)
	c, err := net.Dial("tcp", b.ListenerAddr("SASL_PLAINTEXT"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// ApiVersions is answered, Metadata is not: the connection closes.
	if _, err := rawRequest(c, kmsg.NewPtrApiVersionsRequest()); err != nil {
		t.Fatalf("ApiVersions before authentication: %v", err)
	}
	if _, err := rawRequest(c, kmsg.NewPtrMetadataRequest()); err == nil {
		t.Fatal("Metadata before authentication was answered")
	}
	plainCl := saslClient(t, b.ListenerAddr("PLAINTEXT"))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	resp, err := hs.RequestWith(ctx, plainCl)
	if err != nil || resp.ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("SaslHandshake on PLAINTEXT: %+v, %v", resp, err)
	}
	// An unknown mechanism is refused with the enabled list.
	c2, err := net.Dial("tcp", b.ListenerAddr("SASL_PLAINTEXT"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	hs.Mechanism = "GSSAPI"
	hs.Version = 1
	r, err := rawRequest(c2, hs)
	if err != nil {
		t.Fatal(err)
	}
	hr := r.(*kmsg.SASLHandshakeResponse)
	if hr.ErrorCode != kerr.UnsupportedSaslMechanism.Code || len(hr.SupportedMechanisms) != 3 {
		t.Fatalf("GSSAPI handshake: %+v", hr)
	}
}

// TestSASLReauthentication: with connections.max.reauth.ms the
// SaslAuthenticate v1 answer tells the session lifetime (KIP-368); the
// client may authenticate again on the connection as the same principal
// (not as another), and a request after the session ended closes the
// connection. franz-go, which re-authenticates on its own, keeps working
// past several lifetimes.
func TestSASLReauthentication(t *testing.T) {
	b := startSASL(t, map[string]string{"listener.name.sasl_plaintext.connections.max.reauth.ms": "1000"})
	addr := b.ListenerAddr("SASL_PLAINTEXT")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	login := func(user, pass string) *kmsg.SASLAuthenticateResponse {
		t.Helper()
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "PLAIN"
		if r, err := rawRequest(c, hs); err != nil || r.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
			t.Fatalf("handshake: %+v %v", r, err)
		}
		auth := kmsg.NewPtrSASLAuthenticateRequest()
		auth.Version = 2
		auth.SASLAuthBytes = []byte("\x00" + user + "\x00" + pass)
		r, err := rawRequest(c, auth)
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		return r.(*kmsg.SASLAuthenticateResponse)
	}
	if r := login("alice", "alice-secret"); r.ErrorCode != 0 || r.SessionLifetimeMillis <= 0 || r.SessionLifetimeMillis > 1000 {
		t.Fatalf("first login: %+v", r)
	}
	if _, err := rawRequest(c, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("Metadata within the session: %v", err)
	}
	if r := login("alice", "alice-secret"); r.ErrorCode != 0 || r.SessionLifetimeMillis <= 0 {
		t.Fatalf("re-authentication: %+v", r)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := rawRequest(c, kmsg.NewPtrMetadataRequest()); err == nil {
		t.Fatal("a request after the session ended was answered")
	}
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c = c2
	login("alice", "alice-secret")
	if r := login("admin", "admin-secret"); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("re-authentication as another principal: %+v", r)
	}

	cl := saslClient(t, addr, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	ctx := ctxT(t)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err != nil {
			t.Fatalf("after re-authentications: %v", err)
		}
	}
}

// rawRequest writes req on c as one frame (client ID "raw", correlation
// ID 1) and reads its response; an error is a closed connection.
func rawRequest(c net.Conn, req kmsg.Request) (kmsg.Response, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, 1)
	if _, err := c.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	body = body[4:] // correlation ID
	if resp.IsFlexible() && req.Key() != 18 {
		body = body[1:] // no tags in our headers
	}
	return resp, resp.ReadFrom(body)
}
