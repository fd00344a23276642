package emulator

import (
	"context"
	"fmt"
)

// Run serves an emulator on addr until ctx ends, then closes it (state is
// saved). ready, when set, is called with the base URL once it listens.
func Run(ctx context.Context, addr string, opts Options, ready func(url string)) error {
	s, err := New(opts)
	if err != nil {
		return err
	}
	if err := s.Start(addr); err != nil {
		return err
	}
	s.log.Info().Str("addr", s.listener.Addr().String()).Str("data", opts.DataDir).Msg("emulator listening")
	if ready != nil {
		ready(s.URL())
	}
	<-ctx.Done()
	if err := s.Close(); err != nil {
		return fmt.Errorf("emulator: close: %w", err)
	}
	return nil
}
