//go:build !wasip1

package memory

// WithMemTableSize returns a copy whose storage engine keeps memtables of n
// bytes instead of its default 64 MiB, so that tests on small disks fill,
// rotate and flush them. At least 7 MiB: the engine's largest inline value,
// 1 MiB, must fit in 15% of it. For tests only.
func (o Options) WithMemTableSize(n int64) Options {
	o.memTableSize = n
	return o
}
