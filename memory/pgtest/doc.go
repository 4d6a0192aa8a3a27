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
//
// # A cluster
//
// StartCluster (or NewCluster) runs three etcd members and three Patroni
// members, pg0, pg1 and pg2, each managing a PostgreSQL with its own port,
// REST API port and data directory (initdb with data checksums, UTF8).
// Cluster.DSN reaches the primary through any member; Member.DSN reads one
// member, standby or not. Primary, WaitNewPrimary and WaitHealthy wait for
// the states tests need, and Member's faults are Kill (SIGKILL of the
// postmaster), Stop and Cont (SIGSTOP and SIGCONT of every PostgreSQL
// process of the member, so it looks hung), and KillPatroni, StopPatroni,
// ContPatroni and StartPatroni. Close continues whatever a test left
// stopped before it stops the cluster.
//
// Patroni's timing is short for fast failover: ttl 10 s, loop_wait 1 s,
// retry_timeout 4 s (Patroni needs ttl >= loop_wait + 2*retry_timeout),
// primary_start_timeout 0 (a crashed primary is failed over, not
// restarted in place), wal_sender_timeout and wal_receiver_timeout 3 s.
// WAL is not recycled and none is kept beyond need (wal_recycle off,
// wal_keep_size 0). A cluster starts in about 10 s; a kill -9 of the
// primary's postmaster fails over in about 2 s, a hung primary in about
// ttl plus 4 s.
//
// # Rationale
//
// Synchronous replication: Patroni's synchronous_mode with
// synchronous_node_count 2 and synchronous_mode_strict. Every commit waits
// until both standbys have flushed it, and Patroni promotes only a member
// it lists as synchronous, so no acknowledged write is lost to a failover;
// strict mode keeps the primary from going on alone when no standby
// answers. The alternative, synchronous_standby_names 'ANY 1 (pg0,pg1,pg2)'
// set by hand, lets any one ack suffice and never stalls a write when a
// standby hangs, but Patroni 3.0.2 (which has no quorum mode) does not
// know which standby holds a write: it may promote the one that lacks it.
// The price of the choice: when a standby hangs, writes stall until its
// WAL sender times out (wal_sender_timeout) and Patroni's next loop drops
// it from the synchronous set, about 2 to 5 s; it is added back once it
// streams again.
//
// Etcd's v2 API, not v3: Patroni 3.0.2 renews its leader key over v3 with
// an unconditional put (fixed in Patroni 3.0.3, patroni/patroni#2689). A
// primary whose Patroni hung past the TTL, as when its PostgreSQL is
// stopped, takes the key back from the member promoted meanwhile when it
// resumes, and the new primary is demoted and rewound, losing the writes
// it acknowledged; TestClusterStoppedPrimary shows it. Over v2 the renewal
// compares the key's holder, and the old primary demotes.
//
// Trust authentication for 127.0.0.1 and the unix socket, replication
// included, because these servers are for tests on loopback alone.
package pgtest
