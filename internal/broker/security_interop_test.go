package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	xdgscram "github.com/xdg-go/scram"
)

// Real clients against the TLS and SASL listeners of one broker
// (startSecure): kcat (librdkafka), confluent-kafka-python, kafka-python,
// kafkajs and sarama each produce records and read them back, and the
// refusals (a wrong password, another CA, a plaintext client on a TLS
// port) are what each client reports for them. franz-go's side is in
// tls_test.go, sasl_test.go and security_oauth_test.go.

// kcatTLS are kcat's options for the SSL listener with alice's
// certificate (cert and key in one PEM file).
func (sb *secureBroker) kcatTLS() []string {
	return []string{"-b", sb.ssl, "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + sb.caFile,
		"-X", "ssl.certificate.location=" + sb.aliceCertKey, "-X", "ssl.key.location=" + sb.aliceCertKey}
}

// kcatSASL are kcat's options for the SASL_SSL listener.
func (sb *secureBroker) kcatSASL(mechanism, user, pass string) []string {
	return []string{"-b", sb.saslSSL, "-X", "security.protocol=sasl_ssl", "-X", "ssl.ca.location=" + sb.caFile,
		"-X", "sasl.mechanisms=" + mechanism, "-X", "sasl.username=" + user, "-X", "sasl.password=" + pass}
}

// kcatRoundTrip produces 20 records to topic with kcat -P and reads them
// back with kcat -C -e, both with the connection options conn; the values
// read must be those produced, in order, and franz-go must read the same.
func kcatRoundTrip(t *testing.T, sb *secureBroker, topic string, conn []string) {
	t.Helper()
	want := secureValues(topic, 20)
	runKcat(t, strings.Join(want, "\n")+"\n", append(conn, "-P", "-t", topic, "-p", "0", "-X", "acks=all")...)
	out := runKcat(t, "", append(conn, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n")...)
	checkValues(t, "kcat -C", strings.Fields(out), want)
	checkValues(t, "franz-go after kcat", sb.topicValues(t, topic, len(want)), want)
}

// kcatRefused runs kcat with args and stdin, which must fail within 20 s,
// and returns what kcat wrote to stderr.
func kcatRefused(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("kcat %v still running after 20 s", args)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("kcat %v: %v, want a non-zero exit\n%s", args, err, stderr.String())
	}
	return stderr.String()
}

// TestSecurityKcat: kcat over mutual TLS and over SASL_SSL with PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512 produces records and reads them back
// exactly; a wrong password fails with librdkafka's authentication error;
// a server certificate from another CA, a missing client certificate and
// a plaintext kcat on the TLS port are refused, and kcat over TLS works
// after them.
func TestSecurityKcat(t *testing.T) {
	kcatPath(t)
	sb := startSecure(t, nil, "kcat-ssl", "kcat-plain", "kcat-scram256", "kcat-scram512")
	t.Run("SSL mutual TLS", func(t *testing.T) { kcatRoundTrip(t, sb, "kcat-ssl", sb.kcatTLS()) })
	handshakeBug := saslHandshakeV0Bug(t, sb.saslSSL, sb.serverTLS(t))
	for _, tc := range []struct{ mechanism, user, pass, topic string }{
		{"PLAIN", "alice", "alice-secret", "kcat-plain"},
		{"SCRAM-SHA-256", scram256User, scram256Pass, "kcat-scram256"},
		{"SCRAM-SHA-512", scram512User, scram512Pass, "kcat-scram512"},
	} {
		t.Run("SASL_SSL "+tc.mechanism, func(t *testing.T) {
			skipForBrokerBug(t, handshakeBug)
			if strings.HasPrefix(tc.mechanism, "SCRAM") {
				skipForBrokerBug(t, scramNonceBug(t, sb.saslSSL, sb.serverTLS(t), scram256User, scram256Pass))
			}
			kcatRoundTrip(t, sb, tc.topic, sb.kcatSASL(tc.mechanism, tc.user, tc.pass))
			// kcat -P stops at librdkafka's first authentication error.
			stderr := kcatRefused(t, "lost\n", append(sb.kcatSASL(tc.mechanism, tc.user, "guess"), "-P", "-t", tc.topic)...)
			if !strings.Contains(stderr, "Authentication failure") || !strings.Contains(stderr, "SASL authentication error") {
				t.Fatalf("wrong %s password: kcat said\n%s", tc.mechanism, stderr)
			}
		})
	}

	other := devCerts(t, "mallory")
	t.Run("refused", func(t *testing.T) { kcatRefusals(t, sb, other) })
	// The broker still serves kcat over TLS.
	out := runKcat(t, "", append(sb.kcatTLS(), "-C", "-t", "kcat-ssl", "-o", "beginning", "-e", "-q", "-f", "%s\n")...)
	checkValues(t, "kcat after the refusals", strings.Fields(out), secureValues("kcat-ssl", 20))
}

// kcatRefusals runs kcat where TLS must refuse it, side by side: each
// waits out kcat's metadata timeout.
func kcatRefusals(t *testing.T, sb *secureBroker, other string) {
	for _, tc := range []struct {
		name, want string
		conn       []string
	}{
		{"server certificate from another CA", "certificate verify failed", []string{"-b", sb.ssl, "-X", "security.protocol=ssl",
			"-X", "ssl.ca.location=" + filepath.Join(other, "ca.pem"),
			"-X", "ssl.certificate.location=" + sb.aliceCertKey, "-X", "ssl.key.location=" + sb.aliceCertKey}},
		{"SASL_SSL server from another CA", "certificate verify failed", []string{"-b", sb.saslSSL, "-X", "security.protocol=sasl_ssl",
			"-X", "ssl.ca.location=" + filepath.Join(other, "ca.pem"), "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"}},
		{"no client certificate", "certificate required", []string{"-b", sb.ssl, "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + sb.caFile}},
		{"plaintext on the TLS port", "Disconnected while requesting ApiVersion", []string{"-b", sb.ssl}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stderr := kcatRefused(t, "", append(tc.conn, "-L", "-m", "3")...)
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("kcat said\n%s\nwant %q in it", stderr, tc.want)
			}
			t.Logf("kcat: %s", firstLine(stderr))
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// secureRun is what the Python and JavaScript round-trip scripts print.
type secureRun struct {
	Client  string     `json:"client"`
	Offsets []int64    `json:"offsets"` // of the records produced, as the producer was told
	Values  []string   `json:"values"`  // read back from the start
	Errors  [][]string `json:"errors"`  // [name, message] of each error the client reported
}

// checkRun checks a round trip of want: produced at offsets from, from+1, …
// and read back exactly.
func checkRun(t *testing.T, res secureRun, want []string, from int64) {
	t.Helper()
	if len(res.Offsets) != len(want) {
		t.Fatalf("%s: %d records acknowledged, want %d (errors %v)", res.Client, len(res.Offsets), len(want), res.Errors)
	}
	for i, o := range res.Offsets {
		if o != from+int64(i) {
			t.Fatalf("%s: record %d acknowledged at offset %d, want %d", res.Client, i, o, from+int64(i))
		}
	}
	checkValues(t, res.Client, res.Values, want)
}

func valuesJSON(t *testing.T, values []string) string {
	b, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pythonConfluentSecure produces the values on stdin (JSON) to partition 0
// of topic with a confluent-kafka Producer of the configuration argv[2]
// (JSON), then reads the partition from the start with a Consumer. In
// mode "refused" it only starts a Producer and waits for the error
// callback to report an authentication error.
const pythonConfluentSecure = `
import json, sys, time
import confluent_kafka
from confluent_kafka import Producer, Consumer, TopicPartition, KafkaError, OFFSET_BEGINNING
mode, conf, topic = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
errors = []
conf["error_cb"] = lambda e: errors.append(e)
out = {"client": "confluent-kafka-python %s (librdkafka %s)" % (confluent_kafka.version()[0], confluent_kafka.libversion()[0])}
def report():
    out["errors"] = [[e.name(), e.str()] for e in errors]
    print(json.dumps(out), flush=True)
if mode == "refused":
    p = Producer(conf)
    deadline = time.time() + 15
    while time.time() < deadline and not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        p.poll(0.1)
    report()
    sys.exit(0)
values = json.loads(sys.stdin.read())
p = Producer(dict(conf, acks="all"))
acked = {}
def delivered(err, msg):
    if err:
        errors.append(err)
    else:
        acked[msg.value().decode()] = msg.offset()
for v in values:
    p.produce(topic, v.encode(), partition=0, on_delivery=delivered)
p.flush(20)
out["offsets"] = [acked[v] for v in values if v in acked]
c = Consumer(dict(conf, **{"group.id": "py-secure", "enable.auto.commit": False}))
c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
got, deadline = [], time.time() + 20
while len(got) < len(values) and time.time() < deadline:
    m = c.poll(0.2)
    if m is None:
        continue
    if m.error():
        errors.append(m.error())
        continue
    got.append(m.value().decode())
c.close()
out["values"] = got
report()
`

// TestSecurityConfluentKafkaPython: confluent-kafka-python produces and
// consumes over mutual TLS and over SASL_SSL with SCRAM-SHA-512; a wrong
// SCRAM password is reported to its error callback as _AUTHENTICATION.
func TestSecurityConfluentKafkaPython(t *testing.T) {
	python := pythonWith(t, "confluent_kafka", "python3-confluent-kafka")
	sb := startSecure(t, nil, "py-ssl", "py-scram512")
	run := func(t *testing.T, mode, topic string, conf map[string]any, want []string) secureRun {
		t.Helper()
		b, _ := json.Marshal(conf)
		var res secureRun
		runClientScript(t, python, "secure.py", pythonConfluentSecure, valuesJSON(t, want), func() {}, &res, mode, string(b), topic)
		return res
	}
	t.Run("SSL mutual TLS", func(t *testing.T) {
		want := secureValues("py-ssl", 20)
		res := run(t, "roundtrip", "py-ssl", map[string]any{"bootstrap.servers": sb.ssl, "security.protocol": "ssl",
			"ssl.ca.location": sb.caFile, "ssl.certificate.location": sb.aliceCertKey, "ssl.key.location": sb.aliceCertKey}, want)
		checkRun(t, res, want, 0)
	})
	saslConf := func(pass string) map[string]any {
		return map[string]any{"bootstrap.servers": sb.saslSSL, "security.protocol": "sasl_ssl", "ssl.ca.location": sb.caFile,
			"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": scram512User, "sasl.password": pass}
	}
	t.Run("SASL_SSL SCRAM-SHA-512", func(t *testing.T) {
		skipForBrokerBug(t, saslHandshakeV0Bug(t, sb.saslSSL, sb.serverTLS(t)))
		skipForBrokerBug(t, scramNonceBug(t, sb.saslSSL, sb.serverTLS(t), scram256User, scram256Pass))
		want := secureValues("py-scram512", 20)
		checkRun(t, run(t, "roundtrip", "py-scram512", saslConf(scram512Pass), want), want, 0)
	})
	t.Run("wrong SCRAM password", func(t *testing.T) {
		skipForBrokerBug(t, saslHandshakeV0Bug(t, sb.saslSSL, sb.serverTLS(t)))
		res := run(t, "refused", "py-scram512", saslConf("guess"), nil)
		for _, e := range res.Errors {
			if e[0] == "_AUTHENTICATION" && strings.Contains(e[1], "SASL authentication error") {
				t.Logf("%s: %s", e[0], e[1])
				return
			}
		}
		t.Fatalf("errors %v, want _AUTHENTICATION", res.Errors)
	})
}

// pythonKafkaSecure is pythonConfluentSecure's round trip with
// kafka-python, whose configuration argv[1] (JSON) holds KafkaProducer and
// KafkaConsumer keyword arguments.
const pythonKafkaSecure = `
import json, sys, time
import kafka
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
conf, topic = json.loads(sys.argv[1]), sys.argv[2]
values = json.loads(sys.stdin.read())
out = {"client": "kafka-python " + kafka.__version__, "errors": []}
try:
    p = KafkaProducer(acks="all", **conf)
    out["offsets"] = [p.send(topic, v.encode(), partition=0).get(timeout=20).offset for v in values]
    p.close()
    c = KafkaConsumer(**conf)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got, deadline = [], time.time() + 20
    while len(got) < len(values) and time.time() < deadline:
        for records in c.poll(timeout_ms=200).values():
            got.extend(r.value.decode() for r in records)
    c.close()
    out["values"] = got
except Exception as e:
    out["errors"].append([type(e).__name__, str(e)])
print(json.dumps(out), flush=True)
`

// TestSecurityKafkaPython: kafka-python produces and consumes over mutual
// TLS and over SASL_SSL with SCRAM-SHA-256.
func TestSecurityKafkaPython(t *testing.T) {
	python := pythonWith(t, "kafka", "python3-kafka")
	sb := startSecure(t, nil, "kp-ssl", "kp-scram256")
	run := func(t *testing.T, topic string, conf map[string]any) {
		t.Helper()
		want := secureValues(topic, 20)
		conf["bootstrap_servers"] = []string{conf["bootstrap_servers"].(string)}
		b, _ := json.Marshal(conf)
		var res secureRun
		runClientScript(t, python, "secure.py", pythonKafkaSecure, valuesJSON(t, want), func() {}, &res, string(b), topic)
		checkRun(t, res, want, 0)
	}
	t.Run("SSL mutual TLS", func(t *testing.T) {
		run(t, "kp-ssl", map[string]any{"bootstrap_servers": sb.ssl, "security_protocol": "SSL",
			"ssl_cafile": sb.caFile, "ssl_certfile": sb.aliceCertKey, "ssl_keyfile": sb.aliceCertKey})
	})
	t.Run("SASL_SSL SCRAM-SHA-256", func(t *testing.T) {
		// kafka-python 2.0.2 (Debian's) sends SaslHandshake v0 and then
		// the SCRAM tokens unframed, which Kafka 4 still serves.
		skipForBrokerBug(t, saslHandshakeV0Bug(t, sb.saslSSL, sb.serverTLS(t)))
		run(t, "kp-scram256", map[string]any{"bootstrap_servers": sb.saslSSL, "security_protocol": "SASL_SSL", "ssl_cafile": sb.caFile,
			"sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": scram256User, "sasl_plain_password": scram256Pass})
	})
}

// kafkajsSecure is the round trip with kafkajs over SASL_SSL: argv is
// bootstrap, topic, CA file, mechanism, username, password. With no
// values on stdin it only connects an admin client, to see it refused.
const kafkajsSecure = `
const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')
const [bootstrap, topic, ca, mechanism, username, password] = process.argv.slice(2)
const values = JSON.parse(fs.readFileSync(0, 'utf8'))
const out = { client: 'kafkajs ' + require('kafkajs/package.json').version, errors: [] }
const kafka = new Kafka({ clientId: 'kafkajs-secure', brokers: [bootstrap], logLevel: logLevel.NOTHING,
  ssl: { ca: [fs.readFileSync(ca, 'utf8')] }, sasl: { mechanism, username, password }, retry: { retries: 2 } })
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const main = async () => {
  if (values.length === 0) {
    const admin = kafka.admin()
    await admin.connect()
    await admin.disconnect()
    return
  }
  const producer = kafka.producer()
  await producer.connect()
  const acks = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition: 0 })) })
  out.offsets = values.map((_, i) => Number(acks[0].baseOffset) + i)
  await producer.disconnect()
  const consumer = kafka.consumer({ groupId: 'kafkajs-secure' })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  out.values = []
  await consumer.run({ eachMessage: async ({ message }) => { out.values.push(message.value.toString()) } })
  for (let deadline = Date.now() + 20000; out.values.length < values.length && Date.now() < deadline;) await sleep(50)
  await consumer.disconnect()
}
main().catch((e) => out.errors.push([e.name, e.message])).finally(() => console.log(JSON.stringify(out)))
`

// TestSecurityKafkaJS: kafkajs produces and consumes over SASL_SSL with
// scram-sha-256, and a wrong password is refused with
// KafkaJSSASLAuthenticationError.
func TestSecurityKafkaJS(t *testing.T) {
	node := kafkajs(t)
	sb := startSecure(t, nil, "js-scram256")
	want := secureValues("js-scram256", 20)
	var res secureRun
	runClientScript(t, node, "secure.js", kafkajsSecure, valuesJSON(t, want), func() {}, &res,
		sb.saslSSL, "js-scram256", sb.caFile, "scram-sha-256", scram256User, scram256Pass)
	if len(res.Errors) > 0 {
		t.Fatalf("%s: %v", res.Client, res.Errors)
	}
	checkRun(t, res, want, 0)

	res = secureRun{}
	runClientScript(t, node, "secure.js", kafkajsSecure, "[]", func() {}, &res,
		sb.saslSSL, "js-scram256", sb.caFile, "scram-sha-256", scram256User, "guess")
	if len(res.Errors) != 1 || res.Errors[0][0] != "KafkaJSSASLAuthenticationError" {
		t.Fatalf("wrong password: errors %v, want KafkaJSSASLAuthenticationError", res.Errors)
	}
	t.Logf("%s: %s", res.Errors[0][0], res.Errors[0][1])
}

// saramaSCRAM is sarama's SCRAMClient over xdg-go/scram, as sarama's own
// examples build it.
type saramaSCRAM struct {
	hash xdgscram.HashGeneratorFcn
	conv *xdgscram.ClientConversation
}

func (c *saramaSCRAM) Begin(user, pass, authorization string) error {
	client, err := c.hash.NewClient(user, pass, authorization)
	if err != nil {
		return err
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *saramaSCRAM) Step(challenge string) (string, error) { return c.conv.Step(challenge) }
func (c *saramaSCRAM) Done() bool                            { return c.conv.Done() }

// TestSecuritySarama: sarama over SASL_SSL with SCRAM-SHA-512 produces
// with acks=all and reads the records back; a wrong password fails with
// SASL_AUTHENTICATION_FAILED.
func TestSecuritySarama(t *testing.T) {
	sb := startSecure(t, nil, "sarama-scram512")
	config := func(pass string) *sarama.Config {
		cfg := sarama.NewConfig()
		cfg.Version = sarama.V4_0_0_0
		cfg.ClientID = "sarama-secure"
		cfg.Net.TLS.Enable = true
		cfg.Net.TLS.Config = sb.serverTLS(t)
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		cfg.Net.SASL.User, cfg.Net.SASL.Password = scram512User, pass
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &saramaSCRAM{hash: xdgscram.SHA512} }
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		cfg.Producer.Return.Successes = true
		cfg.Producer.Partitioner = sarama.NewManualPartitioner
		cfg.Metadata.Retry.Max = 0
		return cfg
	}
	const topic = "sarama-scram512"
	want := secureValues(topic, 20)
	producer, err := sarama.NewSyncProducer([]string{sb.saslSSL}, config(scram512Pass))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range want {
		_, offset, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)})
		if err != nil {
			t.Fatal(err)
		}
		if offset != int64(i) {
			t.Fatalf("record %d at offset %d", i, offset)
		}
	}
	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	consumer, err := sarama.NewConsumer([]string{sb.saslSSL}, config(scram512Pass))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var got []string
	timeout := time.After(20 * time.Second)
	for len(got) < len(want) {
		select {
		case m := <-pc.Messages():
			got = append(got, string(m.Value))
		case err := <-pc.Errors():
			t.Fatal(err)
		case <-timeout:
			t.Fatalf("read %d of %d records", len(got), len(want))
		}
	}
	checkValues(t, "sarama", got, want)

	_, err = sarama.NewClient([]string{sb.saslSSL}, config("guess"))
	if !errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
		t.Fatalf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
}
