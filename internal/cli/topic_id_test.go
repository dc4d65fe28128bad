package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTopicIDsInKafkaForm checks that topic IDs are printed as Kafka's tools
// print them (URL-safe base64, no padding, 22 characters) and accepted in
// that form (and with the padding Kafka's Uuid.fromString also accepts).
func TestTopicIDsInKafkaForm(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "ids", "-p", "2")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(context.Background(), "ids")
	if err != nil {
		t.Fatal(err)
	}
	raw := details["ids"].ID
	want := base64.RawURLEncoding.EncodeToString(raw[:])
	if len(want) != 22 {
		t.Fatalf("Kafka's form is 22 characters: %q", want)
	}

	out := ok(t, b, "", "topic", "describe", "ids")
	if !strings.Contains(out, "\nID          "+want+"\n") {
		t.Errorf("describe does not print ID %s:\n%s", want, out)
	}
	var d []topicDescription
	if err := json.Unmarshal([]byte(ok(t, b, "", "topic", "describe", "ids", "--format", "json")), &d); err != nil {
		t.Fatal(err)
	}
	if d[0].ID != want {
		t.Errorf("JSON id %q, want %q", d[0].ID, want)
	}

	for _, in := range []string{want, want + "=="} {
		out := ok(t, b, "", "topic", "describe", "--topic-id", in)
		if !strings.HasPrefix(out, "NAME        ids\nID          "+want+"\n") {
			t.Errorf("describe --topic-id %s:\n%s", in, out)
		}
	}
	// Standard base64's alphabet (+ and /) is not Kafka's.
	for _, bad := range []string{"nope", want[:21], want + "A", "+/" + want[2:]} {
		r := samsa(t, b, "", "topic", "describe", "--topic-id", bad)
		if r.err == nil || !strings.Contains(r.err.Error(), "URL-safe base64") {
			t.Errorf("describe --topic-id %q: err %v, want a parse error", bad, r.err)
		}
	}
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	if r := samsa(t, b, "", "topic", "describe", "--topic-id", unknown); r.err == nil || !strings.Contains(r.err.Error(), "UNKNOWN_TOPIC_ID") {
		t.Errorf("describe of an unknown ID: err %v, want UNKNOWN_TOPIC_ID", r.err)
	}
	if r := samsa(t, b, "", "topic", "describe"); r.err == nil {
		t.Error("describe without topics or IDs: want an error")
	}

	if out := ok(t, b, "", "topic", "delete", "--topic-id", want); !strings.Contains(out, "ids    deleted") {
		t.Errorf("delete --topic-id:\n%s", out)
	}
	if out := ok(t, b, "", "topic", "list"); strings.Contains(out, "ids") {
		t.Errorf("ids still listed after delete by ID:\n%s", out)
	}
}
