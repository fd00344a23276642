package gh

import "time"

// SetConfigClock replaces a loader's clock (for OwnerAbsentTTL).
func SetConfigClock(l *ConfigLoader, now func() time.Time) { l.now = now }
