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
	w.logger.Log(context.Background(), level, string(bytes.TrimSpace(line)))
	return len(p), nil
}
