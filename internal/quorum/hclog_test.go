package quorum

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestHCLogToSlog(t *testing.T) {
	var buf bytes.Buffer
	hl := newHCLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	hl.Debug("chatty")
	hl.Info("chatty")
	hl.Warn("failed to contact", "server-id", 2)
	hl.Error("disk full")
	hl.Warn("heartbeat timeout reached, starting election")
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="raft: failed to contact: server-id=2"`,
		`level=ERROR msg="raft: disk full"`,
		`level=INFO msg="raft: heartbeat timeout reached, starting election"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "chatty") {
		t.Errorf("debug/info leaked:\n%s", out)
	}
}
