//go:build linux

package lazyfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// mount mounts a lazy file system for the test and returns it, its backing
// directory and its mount point. It skips the test where FUSE is not
// available, unless HERKEN_REQUIRE_EXTERNAL is set (as in CI).
func mount(t *testing.T) (f *FS, backing, mnt string) {
	t.Helper()
	backing, mnt = t.TempDir(), t.TempDir()
	f, err := Mount(backing, mnt)
	if errors.Is(err, ErrUnavailable) {
		if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
			t.Fatalf("FUSE is required (HERKEN_REQUIRE_EXTERNAL is set): %v (apt-get install -y fuse3; run as root)", err)
		}
		t.Skipf("FUSE is not available here: %v", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Unmount()) })
	return f, backing, mnt
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i%251)
	}
	return b
}

// A write that was not fsynced is read back through the mount before the
// cut, and is gone after it; the file it created stays, as metadata passes
// through.
func TestUnsyncedWriteLostAfterCut(t *testing.T) {
	f, backing, mnt := mount(t)
	data := pattern(10000, 1)
	require.NoError(t, os.WriteFile(filepath.Join(mnt, "a"), data, 0o644))

	got, err := os.ReadFile(filepath.Join(mnt, "a"))
	require.NoError(t, err)
	require.Equal(t, data, got, "reads see unsynced data")
	st, err := os.Stat(filepath.Join(mnt, "a"))
	require.NoError(t, err)
	require.EqualValues(t, len(data), st.Size(), "the size is the overlay's")
	onDisk, err := os.ReadFile(filepath.Join(backing, "a"))
	require.NoError(t, err)
	require.Empty(t, onDisk, "nothing reached the backing file before an fsync")

	require.Equal(t, int64(3*pageSize), f.Cut())
	require.NoError(t, f.Unmount())
	onDisk, err = os.ReadFile(filepath.Join(backing, "a"))
	require.NoError(t, err, "the file was created: metadata passes through")
	require.Empty(t, onDisk)
}

// A synced write is kept; what was written after the fsync, over it and
// past it, is not.
func TestSyncedWriteKept(t *testing.T) {
	f, backing, mnt := mount(t)
	synced := pattern(6000, 7)
	fh, err := os.Create(filepath.Join(mnt, "b"))
	require.NoError(t, err)
	defer fh.Close()
	_, err = fh.Write(synced)
	require.NoError(t, err)
	require.NoError(t, fh.Sync())
	_, err = fh.WriteAt(pattern(3000, 99), 5000) // over the end of the synced part and past it
	require.NoError(t, err)

	want := append(append([]byte{}, synced[:5000]...), pattern(3000, 99)...)
	got, err := os.ReadFile(filepath.Join(mnt, "b"))
	require.NoError(t, err)
	require.Equal(t, want, got, "reads see the unsynced write over the synced data")

	f.Cut()
	onDisk, err := os.ReadFile(filepath.Join(backing, "b"))
	require.NoError(t, err)
	require.Equal(t, synced, onDisk)
}

// Pages written through a shared writable map reach the file system as
// writes when the kernel writes them back; msync or fsync makes them
// durable, and those written after are lost, though the kernel may write
// them back when the writer closes the file. The writer is a child process: a page fault
// on the mount in the process that serves it could wait on a stopped world
// (Go cannot preempt a thread in a fault) while the server waits on it.
func TestMmapWriteKeptAfterMsyncOrFsync(t *testing.T) {
	f, backing, mnt := mount(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0]) // TestMain makes it mmapWriter
	cmd.Env = append(os.Environ(), "LAZYFS_MMAP_FILE="+filepath.Join(mnt, "m"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the writer: %s", out)

	f.Cut()
	onDisk, err := os.ReadFile(filepath.Join(backing, "m"))
	require.NoError(t, err)
	require.Len(t, onDisk, mmapSize, "the truncation passed through")
	require.Equal(t, "msynced", string(onDisk[:7]))
	require.Equal(t, "fsynced", string(onDisk[5*pageSize:5*pageSize+7]))
	require.Equal(t, make([]byte, 4), onDisk[9*pageSize:9*pageSize+4], "written through the map after the last sync")
}

const mmapSize = 16 * pageSize

// mmapWriter writes through a shared map of a new file: a page it msyncs,
// a page it fsyncs, and a page it does not sync.
func mmapWriter(name string) error {
	fh, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := fh.Truncate(mmapSize); err != nil {
		return err
	}
	m, err := unix.Mmap(int(fh.Fd()), 0, mmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(m)
	copy(m[0:], "msynced")
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		return err
	}
	copy(m[5*pageSize:], "fsynced")
	if err := fh.Sync(); err != nil {
		return err
	}
	copy(m[9*pageSize:], "lost")
	return nil
}

// TestMain runs mmapWriter, instead of the tests, in the child process
// that TestMmapWriteKeptAfterMsyncOrFsync starts.
func TestMain(m *testing.M) {
	if name := os.Getenv("LAZYFS_MMAP_FILE"); name != "" {
		if err := mmapWriter(name); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// After a cut nothing reaches the backing directory: writes, fsyncs and
// changes to the tree fail.
func TestCutRefusesWhatFollows(t *testing.T) {
	f, backing, mnt := mount(t)
	fh, err := os.Create(filepath.Join(mnt, "c"))
	require.NoError(t, err)
	defer fh.Close()
	f.Cut()
	_, err = fh.Write([]byte("after"))
	err = errors.Join(err, fh.Sync())
	require.ErrorIs(t, err, syscall.EIO)
	require.Error(t, os.WriteFile(filepath.Join(mnt, "d"), []byte("x"), 0o644))
	require.Error(t, os.Remove(filepath.Join(mnt, "c")))
	_, err = os.Stat(filepath.Join(backing, "d"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.FileExists(t, filepath.Join(backing, "c"))
	onDisk, err := os.ReadFile(filepath.Join(backing, "c"))
	require.NoError(t, err)
	require.Empty(t, onDisk)
}

// A truncation passes through at once and cuts the unsynced data with it;
// unmounting without a cut is a clean shutdown that keeps the rest.
func TestTruncateAndCleanUnmount(t *testing.T) {
	f, backing, mnt := mount(t)
	p := filepath.Join(mnt, "t")
	require.NoError(t, os.WriteFile(p, pattern(3*pageSize, 3), 0o644))
	require.NoError(t, os.Truncate(p, pageSize+10))
	require.NoError(t, os.Truncate(p, 2*pageSize))
	want := append(pattern(3*pageSize, 3)[:pageSize+10], make([]byte, pageSize-10)...)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, want, got, "bytes past a truncation read as zeros when the file grows again")
	st, err := os.Stat(filepath.Join(backing, "t"))
	require.NoError(t, err)
	require.EqualValues(t, 2*pageSize, st.Size(), "the truncation passed through")

	require.NoError(t, f.Unmount())
	onDisk, err := os.ReadFile(filepath.Join(backing, "t"))
	require.NoError(t, err)
	require.Equal(t, want, onDisk)
	var buf bytes.Buffer
	buf.Write(onDisk)
	require.Equal(t, 2*pageSize, buf.Len())
}
