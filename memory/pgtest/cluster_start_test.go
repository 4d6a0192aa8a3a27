//go:build unix

package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/pgtest"
)

func TestClusterStart(t *testing.T) {
	start := time.Now()
	c := pgtest.NewCluster(t, pgtest.ClusterOptions{})
	t.Logf("cluster healthy after %v", time.Since(start))
	p, err := c.Primary(context.Background())
	require.NoError(t, err)
	t.Logf("primary %s; DSN %s", p.Name, c.DSN())
}
