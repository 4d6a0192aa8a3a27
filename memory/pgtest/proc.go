//go:build unix

package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// stopGrace bounds how long a process may take to stop after SIGINT or
// SIGTERM before it is killed.
const stopGrace = 15 * time.Second

// account is the user the servers run as: postgres when the test runs as
// root (PostgreSQL refuses to run as root), else the test's own user.
type account struct {
	cred     *syscall.Credential // nil: run as ourselves
	uid, gid int
}

func lookupAccount() (account, error) {
	if os.Geteuid() != 0 {
		return account{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return account{}, fmt.Errorf("pgtest: running as root needs the postgres user: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return account{}, fmt.Errorf("pgtest: uid of postgres: %w", err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return account{}, fmt.Errorf("pgtest: gid of postgres: %w", err)
	}
	return account{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid: uid, gid: gid}, nil
}

// own hands a path the harness made to the account, so that the servers can
// write there.
func (a account) own(paths ...string) error {
	if a.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, a.uid, a.gid); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	return nil
}

// command runs exe as the account, in its own process group so that a
// signal for the group reaches the program and every child it did not move
// to a session of its own. Setting the credential here, rather than going
// through runuser, leaves no process in between that would swallow signals.
func (a account) command(logPath, home, exe string, args ...string) (*exec.Cmd, *os.File, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("pgtest: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: a.cred}
	cmd.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C.UTF-8", "PGTZ=UTC")
	return cmd, log, nil
}

// proc is a started program; it is safe for concurrent use.
type proc struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed once cmd.Wait returned
}

func start(cmd *exec.Cmd, log *os.File) (*proc, error) {
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("pgtest: start %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the program has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the program's process group.
func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("pgtest: signal %v to %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// stop continues the group in case a fault stopped it, asks it to end with
// sig, and kills it once stopGrace has passed. It returns when the program
// has ended.
func (p *proc) stop(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	_ = p.signal(syscall.SIGCONT)
	if err := p.signal(sig); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	_ = p.signal(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("pgtest: %s did not stop within %v and was killed", p.cmd.Path, stopGrace)
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. All listeners are held until the last port is chosen, so the
// n ports differ; another process may still take one before it is used,
// which callers handle by retrying where they can.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pgtest: free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
