// Package logging builds hoist's zerolog logger: JSON lines for machines,
// a human console format when stderr is a terminal. Stable keys used across
// the program are defined here so that every package spells them the same.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Stable log keys.
const (
	KeyDelivery     = "delivery"
	KeyEvent        = "event"
	KeyRepo         = "repo"
	KeyInstallation = "installation"
	KeySHA          = "sha"
	KeyEnv          = "env"
	KeyAudit        = "audit"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format "json", "console", or "auto" (console when w is a
// terminal).
func New(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("logging: unknown level %q", level)
	}
	console := false
	switch format {
	case "console":
		console = true
	case "json":
	case "auto", "":
		if f, ok := w.(*os.File); ok {
			console = isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
		}
	default:
		return zerolog.Nop(), fmt.Errorf("logging: unknown format %q", format)
	}
	if console {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// Slog returns a log/slog logger that writes through l, for libraries
// (River) that log with slog. Their records keep their attributes; levels
// map one to one. Hand-written because zerolog v1.34 ships no slog handler.
func Slog(l zerolog.Logger) *slog.Logger { return slog.New(slogHandler{l: l}) }

type slogHandler struct {
	l     zerolog.Logger
	attrs []slog.Attr
	group string
}

func zlevel(l slog.Level) zerolog.Level {
	switch {
	case l >= slog.LevelError:
		return zerolog.ErrorLevel
	case l >= slog.LevelWarn:
		return zerolog.WarnLevel
	case l >= slog.LevelInfo:
		return zerolog.InfoLevel
	default:
		return zerolog.DebugLevel
	}
}

func (h slogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return zlevel(l) >= h.l.GetLevel()
}

func (h slogHandler) Handle(_ context.Context, r slog.Record) error {
	ev := h.l.WithLevel(zlevel(r.Level))
	add := func(a slog.Attr) bool {
		key := a.Key
		if h.group != "" {
			key = h.group + "." + key
		}
		ev = ev.Interface(key, a.Value.Resolve().Any())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	ev.Msg(r.Message)
	return nil
}

func (h slogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}

func (h slogHandler) WithGroup(name string) slog.Handler {
	if h.group != "" {
		name = h.group + "." + name
	}
	h.group = name
	return h
}

// Printable bounds a value that a stranger sent (a header, a path segment)
// to max bytes for a log line or an answer, replacing what is not printable
// ASCII, and marks a cut with "...": such values must never carry control
// characters or unbounded length into logs.
func Printable(v string, max int) string {
	b := []byte(v[:min(len(v), max)])
	for i, c := range b {
		if c < ' ' || c >= 0x7f {
			b[i] = '?'
		}
	}
	if len(v) > max {
		return string(b) + "..."
	}
	return string(b)
}
