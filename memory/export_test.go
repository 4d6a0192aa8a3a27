//go:build !wasip1 && unix

package memory

// StopInstancesServer stops the PostgreSQL server of the instance tests,
// if one started: the test binary's TestMain calls it.
func StopInstancesServer() {
	if instancesServer != nil {
		_ = instancesServer.Close()
	}
}
