package cluster

import (
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// raftLogger is what hashicorp/raft logs through.
type raftLogger = hclog.InterceptLogger

// newRaftLogger routes raft's hclog output into our slog logger, so the
// operator gets one log stream in one format.
func newRaftLogger(l *slog.Logger) raftLogger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name: "raft", Output: io.Discard, Level: hclog.Info,
	})
	il.RegisterSink(slogSink{l})
	return il
}

type slogSink struct{ l *slog.Logger }

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	lvl := slog.LevelInfo
	switch {
	case level <= hclog.Debug:
		lvl = slog.LevelDebug
	case level == hclog.Warn:
		lvl = slog.LevelWarn
	case level >= hclog.Error:
		lvl = slog.LevelError
	}
	s.l.Log(context.Background(), lvl, msg, append([]any{"component", name}, args...)...)
}
