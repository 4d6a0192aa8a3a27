package codec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTimesComeBackInUTC decodes times as the store wrote them, whatever
// the zone they were written in, and in every encoding msgpack has.
func TestTimesComeBackInUTC(t *testing.T) {
	amsterdam := time.FixedZone("CET", 3600)
	type timed struct {
		At   time.Time
		Any  any
		List []time.Time
	}
	for _, tm := range []time.Time{
		{},                              // the zero time
		time.Unix(1_700_000_000, 0),     // 4 bytes: seconds
		time.Unix(1_700_000_000, 12345), // 8 bytes: with nanoseconds
		time.Date(1900, 1, 1, 0, 0, 0, 5, amsterdam), // 12 bytes: before 1970
		time.Date(2026, 11, 2, 10, 0, 0, 0, amsterdam),
	} {
		b, err := Marshal(timed{At: tm, Any: tm, List: []time.Time{tm}})
		require.NoError(t, err)
		var got timed
		require.NoError(t, Unmarshal(b, &got))
		require.Equal(t, tm.UTC(), got.At, "%v", tm)
		require.Equal(t, time.UTC, got.At.Location())
		require.Equal(t, []time.Time{tm.UTC()}, got.List)
		require.Equal(t, tm.UTC(), got.Any)
	}
}
