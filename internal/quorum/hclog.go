package quorum

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger returns an hclog.Logger for raft and raft-wal that forwards
// warnings and errors to logger: raft is noisy below warn level.
func newHCLogger(logger *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Warn,
		Output:      slogWriter{logger},
		DisableTime: true,
	})
}

// expectedOnStart is a warning raft gives on every start of a node, where it
// is the normal way to elect itself, not a sign of trouble.
var expectedOnStart = []byte("heartbeat timeout reached, starting election")

// closedByUs is raft's error when Close cuts a connection its transport
// was reading (streamLayer.Close closes every accepted connection, so that
// none outlives the node): expected at every stop.
var closedByUs = [][]byte{[]byte("failed to decode incoming command"), []byte("use of closed network connection")}

// slogWriter receives hclog's formatted lines ("[WARN]  raft: message: k=v").
type slogWriter struct{ logger *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelWarn
	switch {
	case bytes.HasPrefix(line, []byte("[ERROR]")):
		level = slog.LevelError
		line = line[len("[ERROR]"):]
	case bytes.HasPrefix(line, []byte("[WARN]")):
		line = line[len("[WARN]"):]
	}
	line = bytes.TrimSpace(line)
	if bytes.Contains(line, expectedOnStart) {
		level = slog.LevelInfo
	}
	if bytes.Contains(line, closedByUs[0]) && bytes.Contains(line, closedByUs[1]) {
		level = slog.LevelDebug
	}
	w.logger.Log(context.Background(), level, string(line))
	return len(p), nil
}
