//go:build unix

// Package pgtest runs PostgreSQL on loopback for tests: one server, or a
// Patroni-managed cluster with synchronous standbys, with faults to inject.
//
// It is for tests only. Every server listens on 127.0.0.1 alone, on ports
// that were free when it started, and lets any local client in without a
// password (trust), for normal and replication connections. Every file is
// in a temporary directory that Close removes, and every process it starts
// is stopped by Close: first politely, then with SIGKILL after a bound.
//
// # Programs
//
// The harness runs Debian's packages: postgresql (the newest major under
// /usr/lib/postgresql, or initdb on the PATH), patroni and etcd-server;
// install them with
//
//	apt-get install -y postgresql patroni etcd-server
//
// NewServer and NewCluster skip a test when a program is missing, and fail
// it instead when the environment variable HERKEN_REQUIRE_EXTERNAL is set,
// as CI sets it; Require does the same for a test of its own.
//
// PostgreSQL refuses to run as root. When the test runs as root the servers
// run as the postgres user: the harness sets the process credential itself
// rather than going through runuser or su, so that signals reach the
// servers, and it gives them the temporary directory.
//
// # One server
//
// Start (or NewServer in a test) runs one server for functional tests, set
// up for logical decoding (wal_level=logical, 64 replication slots and WAL
// senders, 300 connections) and for speed: fsync and full_page_writes are
// off, so the server is not durable across a crash of the machine. Each
// test takes a database of its own with NewDatabase, which is cheap (about
// a tenth to a third of a second) and dropped at the test's cleanup. A
// TestMain can share one server among a package's tests: Start takes a
// context and returns an error for that.
package pgtest
