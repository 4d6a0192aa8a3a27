//go:build linux

// Package lazyfs is a file system for tests that loses what was not
// fsynced when the power is cut, as Jepsen's LazyFS does. It is a FUSE file
// system (go-fuse) that passes operations through to a backing directory,
// except file data: what is written stays in memory, over the backing file,
// until the file is fsynced. Cut drops all of it at once, as a power loss
// drops a disk's and the kernel's caches. Test the store on the mount, cut,
// then open the backing directory directly to see what a machine would find
// after the power came back.
//
// FS is safe for concurrent use. Mounting needs /dev/fuse and the right to
// mount (root, or fusermount3); Mount returns ErrUnavailable without them.
//
// # The model
//
// A write (write(2), or the kernel writing back pages written through a
// shared memory map) goes into an overlay of the file, in pages of 4 KiB;
// reads see the overlay over the backing file, and the file's size is the
// overlay's. An fsync of the file (fsync, fdatasync, or msync with MS_SYNC)
// writes its overlay to the backing file and fsyncs that. Cut drops every
// overlay, then refuses, with EIO, every operation that reads or writes
// data or changes the tree; nothing done after a Cut reaches the backing
// directory. Unmount without a Cut is a clean shutdown: what is unsynced is
// written to the backing files.
//
// # Limits
//
// Only file data is lazy. Metadata operations pass through at once and are
// durable at once: create, mkdir, unlink, rename, link, symlink, chmod and
// truncation (setattr of the size, and O_TRUNC) reach the backing directory
// when they are made, and fsync of a directory does nothing. So the file
// system cannot show a program that forgot to fsync a directory after
// creating or renaming a file, nor a file system that persists a rename
// before the data of the file renamed; a truncation that extends a file is
// kept, with zeros, even when the data written after it is lost. Unsynced
// data is lost whole, never torn: a cut keeps no part of an unsynced write.
// Files are cached by the kernel's page cache as on any FUSE mount; this is
// what makes shared writable maps work, and a Cut is only sound once the
// processes using the mount are gone or can no longer write (kill them right
// after the Cut).
package lazyfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// ErrUnavailable is returned by Mount when this machine cannot mount a FUSE
// file system: /dev/fuse is absent, or mounting is refused.
var ErrUnavailable = errors.New("lazyfs: FUSE is not available")

const pageSize = 4096

// FS is a mounted lazy file system.
type FS struct {
	server *fuse.Server

	// gate orders every request that reads or writes data, or changes the
	// tree, before or after a Cut: such a request holds it for reading
	// while it runs, Cut holds it for writing.
	gate sync.RWMutex
	cut  bool // guarded by gate

	mu    sync.Mutex          // guards files and the overlays in it
	files map[fileID]*overlay // the unsynced data of each backing file that has some
}

// fileID names a backing file: its device and inode numbers.
type fileID struct{ dev, ino uint64 }

// overlay is a file's unsynced data. Invariant: the backing file is no
// longer than size, and reads of the file see the dirty pages over the
// backing file's bytes, zeros past its end, up to size.
type overlay struct {
	fd    int                       // a writable descriptor of the backing file, owned; it keeps the inode number taken
	size  int64                     // the file's size as readers see it
	pages map[int64]*[pageSize]byte // dirty pages by index, each whole: bytes not written are the backing file's
}

// Mount mounts a lazy file system at mountpoint over the backing directory.
// Unmount it when done.
func Mount(backing, mountpoint string) (*FS, error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if _, err := os.Stat(mountpoint); err != nil {
		return nil, fmt.Errorf("lazyfs: mount point: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("lazyfs: backing directory: %w", err)
	}
	f := &FS{files: map[fileID]*overlay{}}
	root := &node{LoopbackNode: &fs.LoopbackNode{RootData: &fs.LoopbackRoot{Path: backing, Dev: st.Dev}}, fs: f}
	root.RootData.RootNode = root
	quiet := log.New(io.Discard, "", 0)
	opts := &fs.Options{
		Logger: quiet,
		MountOptions: fuse.MountOptions{
			FsName: backing,
			Name:   "lazyfs",
			// As root, mount(2) itself; otherwise fusermount3.
			DirectMount: true,
			// Only the kernel writes through this mount, so its page
			// cache stays true: no invalidation when a file's time changes.
			ExplicitDataCacheControl: true,
			// Reads and writes must come here, not go to the backing file.
			DisabledCapabilities: fuse.CAP_PASSTHROUGH,
			DisableXAttrs:        true,
			Logger:               quiet,
		},
	}
	server, err := fuse.NewServer(&gated{RawFileSystem: fs.NewNodeFS(root, opts), fs: f}, mountpoint, &opts.MountOptions)
	if err != nil {
		return nil, fmt.Errorf("%w: mount %s: %v", ErrUnavailable, mountpoint, err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		_ = server.Unmount()
		return nil, fmt.Errorf("%w: mount %s: %v", ErrUnavailable, mountpoint, err)
	}
	f.server = server
	return f, nil
}

// Cut cuts the power: it drops every byte written and not fsynced, and
// refuses every later request that reads or writes data or changes the
// tree. Requests already running finish first. It returns how many bytes it
// dropped, counted in whole pages. Cut is idempotent; kill the processes
// that use the mount right after it, then Unmount.
func (f *FS) Cut() (dropped int64) {
	f.gate.Lock()
	f.cut = true
	f.gate.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, o := range f.files {
		dropped += int64(len(o.pages)) * pageSize
		syscall.Close(o.fd)
		delete(f.files, id)
	}
	return dropped
}

// Unmount unmounts the file system; no process may have a file open on it.
// Without a Cut before, it is a clean shutdown: what is unsynced is written
// to the backing files.
func (f *FS) Unmount() error {
	if err := f.server.Unmount(); err != nil {
		return fmt.Errorf("lazyfs: unmount: %w", err)
	}
	var errs error
	for {
		f.mu.Lock()
		var id fileID
		var o *overlay
		for id, o = range f.files {
			break
		}
		f.mu.Unlock()
		if o == nil {
			return errs
		}
		if errno := f.sync(id); errno != 0 {
			errs = errors.Join(errs, errno)
			f.mu.Lock()
			if f.files[id] == o {
				syscall.Close(o.fd)
				delete(f.files, id)
			}
			f.mu.Unlock()
		}
	}
}

// write writes data at off into the overlay of the file that h opened.
func (f *FS) write(h *handle, data []byte, off int64) (uint32, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.files[h.id]
	if o == nil {
		var st syscall.Stat_t
		if err := syscall.Fstat(h.fd, &st); err != nil {
			return 0, fs.ToErrno(err)
		}
		fd, err := unix.FcntlInt(uintptr(h.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return 0, fs.ToErrno(err)
		}
		o = &overlay{fd: fd, size: st.Size, pages: map[int64]*[pageSize]byte{}}
		f.files[h.id] = o
	}
	end := off + int64(len(data))
	for p := off / pageSize; p*pageSize < end; p++ {
		pg := o.pages[p]
		if pg == nil {
			pg = new([pageSize]byte)
			if _, err := syscall.Pread(o.fd, pg[:], p*pageSize); err != nil {
				return 0, fs.ToErrno(err)
			}
			o.pages[p] = pg
		}
		lo, hi := max(off, p*pageSize), min(end, (p+1)*pageSize)
		copy(pg[lo-p*pageSize:hi-p*pageSize], data[lo-off:hi-off])
	}
	o.size = max(o.size, end)
	return uint32(len(data)), 0
}

// read reads into buf at off from the file that h opened, overlay first.
func (f *FS) read(h *handle, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.files[h.id]
	if o != nil {
		if off >= o.size {
			return fuse.ReadResultData(nil), 0
		}
		buf = buf[:min(int64(len(buf)), o.size-off)]
	}
	n, err := syscall.Pread(h.fd, buf, off)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	if o == nil {
		return fuse.ReadResultData(buf[:n]), 0
	}
	clear(buf[n:]) // past the backing file's end, before the overlay's
	end := off + int64(len(buf))
	for p := off / pageSize; p*pageSize < end; p++ {
		if pg := o.pages[p]; pg != nil {
			lo, hi := max(off, p*pageSize), min(end, (p+1)*pageSize)
			copy(buf[lo-off:hi-off], pg[lo-p*pageSize:hi-p*pageSize])
		}
	}
	return fuse.ReadResultData(buf), 0
}

// sync writes the overlay of a file to the backing file and fsyncs that.
func (f *FS) sync(id fileID) syscall.Errno {
	f.mu.Lock()
	o := f.files[id]
	if o == nil {
		f.mu.Unlock()
		return 0
	}
	for p, pg := range o.pages {
		n := min(pageSize, o.size-p*pageSize)
		if n <= 0 {
			continue
		}
		if _, err := syscall.Pwrite(o.fd, pg[:n], p*pageSize); err != nil {
			f.mu.Unlock()
			return fs.ToErrno(err)
		}
	}
	var st syscall.Stat_t
	err := syscall.Fstat(o.fd, &st)
	if err == nil && st.Size < o.size {
		err = syscall.Ftruncate(o.fd, o.size)
	}
	if err != nil {
		f.mu.Unlock()
		return fs.ToErrno(err)
	}
	// The backing file holds it all now; writes from here on start a new
	// overlay. The fsync need not hold up reads and writes.
	delete(f.files, id)
	f.mu.Unlock()
	err = syscall.Fsync(o.fd)
	syscall.Close(o.fd)
	return fs.ToErrno(err)
}

// truncate sets the size of a file whose backing file truncate(fd) sets,
// passing it through at once, and cuts the overlay to match.
func (f *FS) truncate(id fileID, size int64, truncate func() error) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := truncate(); err != nil {
		return fs.ToErrno(err)
	}
	o := f.files[id]
	if o == nil {
		return 0
	}
	for p, pg := range o.pages {
		switch {
		case p*pageSize >= size:
			delete(o.pages, p)
		case (p+1)*pageSize > size:
			clear(pg[size-p*pageSize:])
		}
	}
	o.size = size
	if len(o.pages) == 0 {
		syscall.Close(o.fd)
		delete(f.files, id)
	}
	return 0
}

// size returns the size readers see of a file whose backing file has st.
func (f *FS) size(st *syscall.Stat_t) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o := f.files[fileID{uint64(st.Dev), st.Ino}]; o != nil {
		return o.size
	}
	return st.Size
}

// node is a file or directory: LoopbackNode for the tree, this for data.
type node struct {
	*fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeWrapChilder    = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeStatxer        = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
	_ fs.NodeTmpfiler       = (*node)(nil)
)

func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), fs: n.fs}
}

// path returns the backing path of the node.
func (n *node) path() string {
	return filepath.Join(n.RootData.Path, n.EmbeddedInode().Path(nil))
}

// readable returns open flags that allow reading as well where they allow
// writing: a write into a page that is not in the overlay yet reads the
// rest of the page from the backing file.
func readable(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return flags&^syscall.O_ACCMODE | syscall.O_RDWR
	}
	return flags
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	flags = flags&^(syscall.O_APPEND|fuse.FMODE_EXEC) | syscall.O_CLOEXEC
	fd, err := syscall.Open(n.path(), int(readable(flags)), 0)
	if errors.Is(err, syscall.EACCES) {
		fd, err = syscall.Open(n.path(), int(flags), 0) // write-only by its mode
	}
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	h, errno := newHandle(n.fs, fd)
	return h, fuse.FOPEN_KEEP_CACHE, errno
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	// LoopbackNode creates the file and its inode; the data goes through a
	// handle of ours on a copy of its descriptor.
	child, lfh, _, errno := n.LoopbackNode.Create(ctx, name, readable(flags), mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	lf := lfh.(*fs.LoopbackFile)
	defer lf.Release(ctx)
	lfd, _ := lf.PassthroughFd()
	fd, err := unix.FcntlInt(uintptr(lfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	h, errno := newHandle(n.fs, fd)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		h.Release(ctx)
		return nil, nil, 0, fs.ToErrno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		n.fs.truncate(h.id, st.Size, func() error { return nil }) // done by the open
	}
	out.Attr.Size = uint64(n.fs.size(&st))
	return child, h, fuse.FOPEN_KEEP_CACHE, 0
}

func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	var err error
	if h, ok := fh.(*handle); ok {
		err = syscall.Fstat(h.fd, &st)
	} else if n.EmbeddedInode() == n.Root() {
		err = syscall.Stat(n.path(), &st)
	} else {
		err = syscall.Lstat(n.path(), &st)
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	st.Size = n.fs.size(&st)
	out.FromStat(&st)
	return 0
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		var errno syscall.Errno
		if h, ok := fh.(*handle); ok {
			errno = n.fs.truncate(h.id, int64(size), func() error { return syscall.Ftruncate(h.fd, int64(size)) })
		} else {
			p := n.path()
			var st syscall.Stat_t
			if err := syscall.Lstat(p, &st); err != nil {
				return fs.ToErrno(err)
			}
			id := fileID{uint64(st.Dev), st.Ino}
			errno = n.fs.truncate(id, int64(size), func() error { return syscall.Truncate(p, int64(size)) })
		}
		if errno != 0 {
			return errno
		}
		rest := *in
		rest.Valid &^= fuse.FATTR_SIZE
		in = &rest
	}
	if in.Valid&^(fuse.FATTR_FH|fuse.FATTR_LOCKOWNER) != 0 {
		// Mode, owner and times by path, as LoopbackNode does without a file.
		if errno := n.LoopbackNode.Setattr(ctx, nil, in, out); errno != 0 {
			return errno
		}
	}
	return n.Getattr(ctx, fh, out)
}

// Statx is left to GETATTR, which knows the overlay: ENOSYS makes the
// kernel fall back to it.
func (n *node) Statx(ctx context.Context, fh fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	return syscall.ENOSYS
}

// CopyFileRange would copy between backing files, past the overlays; the
// kernel falls back to reads and writes.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP
}

// Tmpfile is not supported: files without a name are out of the model.
func (n *node) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.ENOTSUP
}

// handle is an open file: a descriptor of the backing file, owned.
type handle struct {
	fs *FS
	fd int
	id fileID
}

var (
	_ fs.FileReader   = (*handle)(nil)
	_ fs.FileWriter   = (*handle)(nil)
	_ fs.FileFsyncer  = (*handle)(nil)
	_ fs.FileFlusher  = (*handle)(nil)
	_ fs.FileReleaser = (*handle)(nil)
)

func newHandle(f *FS, fd int) (*handle, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, fs.ToErrno(err)
	}
	return &handle{fs: f, fd: fd, id: fileID{uint64(st.Dev), st.Ino}}, 0
}

func (h *handle) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return h.fs.read(h, buf, off)
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return h.fs.write(h, data, off)
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno { return h.fs.sync(h.id) }

func (h *handle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Release(ctx context.Context) syscall.Errno {
	return fs.ToErrno(syscall.Close(h.fd))
}

// gated refuses, after a Cut, every request that reads or writes data or
// changes the tree, and runs each such request before a Cut whole.
type gated struct {
	fuse.RawFileSystem
	fs *FS
}

// enter admits a request, or refuses it after a Cut; leave must follow
// an admission.
func (g *gated) enter() bool {
	g.fs.gate.RLock()
	if g.fs.cut {
		g.fs.gate.RUnlock()
		return false
	}
	return true
}

func (g *gated) leave() { g.fs.gate.RUnlock() }

func (g *gated) SetAttr(c <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.SetAttr(c, in, out)
}

func (g *gated) Mknod(c <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Mknod(c, in, name, out)
}

func (g *gated) Mkdir(c <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Mkdir(c, in, name, out)
}

func (g *gated) Unlink(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Unlink(c, h, name)
}

func (g *gated) Rmdir(c <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Rmdir(c, h, name)
}

func (g *gated) Rename(c <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Rename(c, in, oldName, newName)
}

func (g *gated) Link(c <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Link(c, in, name, out)
}

func (g *gated) Symlink(c <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Symlink(c, h, target, name, out)
}

func (g *gated) SetXAttr(c <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.SetXAttr(c, in, attr, data)
}

func (g *gated) RemoveXAttr(c <-chan struct{}, h *fuse.InHeader, attr string) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.RemoveXAttr(c, h, attr)
}

func (g *gated) Create(c <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Create(c, in, name, out)
}

func (g *gated) Tmpfile(c <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	return fuse.ENOTSUP
}

func (g *gated) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Open(c, in, out)
}

func (g *gated) Read(c <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	if !g.enter() {
		return nil, fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Read(c, in, buf)
}

func (g *gated) Write(c <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	if !g.enter() {
		return 0, fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Write(c, in, data)
}

// Writev is left to Write, which the node file system sends to the
// overlay: ENOSYS makes go-fuse call it.
func (g *gated) Writev(c <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	return 0, fuse.ENOSYS
}

func (g *gated) CopyFileRange(c <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	return 0, fuse.ENOTSUP
}

func (g *gated) Ioctl(c <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	return fuse.Status(syscall.ENOTTY)
}

func (g *gated) Fsync(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return g.RawFileSystem.Fsync(c, in)
}

func (g *gated) Fallocate(c <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	return fuse.ENOTSUP
}

// FsyncDir does nothing: metadata is durable at once (see Limits).
func (g *gated) FsyncDir(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	if !g.enter() {
		return fuse.EIO
	}
	defer g.leave()
	return fuse.OK
}
