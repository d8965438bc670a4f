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
	// Raft's own debug lines are produced only when they can be shown.
	level := hclog.Info
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "raft", Output: io.Discard, Level: level})
	il.RegisterSink(slogSink{l})
	return il
}

type slogSink struct{ l *slog.Logger }

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	// Raft narrates every election, including a single node electing
	// itself at each start; one level quieter keeps that out of an
	// operator's default view while its errors stay errors.
	lvl := slog.LevelDebug
	switch {
	case level == hclog.Warn:
		lvl = slog.LevelInfo
	case level >= hclog.Error:
		lvl = slog.LevelError
	}
	s.l.Log(context.Background(), lvl, msg, append([]any{"component", name}, args...)...)
}
