//go:build unix

package pgtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// etcdMember is one member of the cluster's etcd, which Patroni keeps its
// state in.
type etcdMember struct {
	name       string
	clientPort int
	peerPort   int
	dir        string
	proc       *proc
}

func (e *etcdMember) clientURL() string { return "http://127.0.0.1:" + strconv.Itoa(e.clientPort) }
func (e *etcdMember) peerURL() string   { return "http://127.0.0.1:" + strconv.Itoa(e.peerPort) }

// startEtcd starts the members of one etcd cluster; token keeps it apart
// from any other on the machine.
func startEtcd(acct account, members []*etcdMember, token string) error {
	exe, err := exec.LookPath("etcd")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	initial := make([]string, len(members))
	for i, m := range members {
		initial[i] = m.name + "=" + m.peerURL()
	}
	for _, m := range members {
		if err := os.MkdirAll(m.dir, 0o700); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if err := acct.own(m.dir); err != nil {
			return err
		}
		cmd, log, err := acct.command(filepath.Join(m.dir, "etcd.log"), m.dir, exe,
			"--name", m.name,
			"--data-dir", filepath.Join(m.dir, "data"),
			"--listen-client-urls", m.clientURL(),
			"--advertise-client-urls", m.clientURL(),
			"--listen-peer-urls", m.peerURL(),
			"--initial-advertise-peer-urls", m.peerURL(),
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", token,
			"--heartbeat-interval", "100",
			"--election-timeout", "1000",
			"--enable-v2=true", // what Patroni talks; see patroniConfig
			"--logger", "zap",
			"--log-level", "warn",
		)
		if err != nil {
			return err
		}
		if m.proc, err = start(cmd, log); err != nil {
			return err
		}
	}
	return nil
}

// waitEtcd polls every member's health endpoint until all say healthy,
// which needs the cluster to have a leader.
func waitEtcd(ctx context.Context, members []*etcdMember) error {
	client := &http.Client{Timeout: time.Second}
	for _, m := range members {
		err := poll(ctx, 50*time.Millisecond, func() error {
			if m.proc.exited() {
				return fmt.Errorf("%w: etcd %s\n%s", errExited, m.name, readTail(filepath.Join(m.dir, "etcd.log")))
			}
			resp, err := client.Get(m.clientURL() + "/health")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var h struct{ Health string }
			if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
				return err
			}
			if h.Health != "true" {
				return fmt.Errorf("etcd %s: health %q", m.name, h.Health)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("pgtest: etcd %s did not start: %w", m.name, err)
		}
	}
	return nil
}
