//go:build !wasip1 && unix

package memory

// StopTestServers stops the PostgreSQL server of the instance tests and
// the Patroni cluster of the failover tests, those that started: the test
// binary's TestMain calls it.
func StopTestServers() {
	if instancesServer != nil {
		_ = instancesServer.Close()
	}
	if cluster != nil {
		_ = cluster.Close()
	}
}
