//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// storeFormat is the layout of a store directory that this build writes.
// Every change of layout or encoding raises it and adds a migration from
// the one before; see RATIONALE.md, "A store never opens as empty".
//
//   - 1: every customer value sealed with the customer's key, identifiers
//     under a keyed hash (no manifest; m/format holds 1).
//   - 2: a manifest; the customers' keys in the key file, where destroying
//     one is final, and only where they are in Badger (s/<id>); values
//     sealed with the key's generation; values over kv.PartSize in parts.
//   - 3: the identifier secret in the key file, not in the data (m/secret),
//     so that a copy of the data alone hashes no identifier; drafts under a
//     keyed hash of their names (c/<id>/w/<h>), not under the names.
//   - 4: the work queue (q/<when><id>, Q/<id>; store_queue.go), an index of
//     the customers with open issues or negative outcomes, newest contact
//     first.
//   - 5: values compressed with zstd before they are sealed (seal version
//     3), and a customer's events kept in packs, several to a value
//     (store_pack.go). Values of format 4 read as they are, each event
//     alone as a pack of one, until they are written again.
const storeFormat = 5

// The layout and key-hash scheme of storeFormat, as its manifest names them.
const (
	layoutName  = "customers-sealed"
	keyHashName = "hmac-sha256-160"
)

// manifest records a store's layout. It is written when the store is made
// and checked by every Open.
type manifest struct {
	Format  int    `msgpack:"format"`
	Layout  string `msgpack:"layout"`
	KeyHash string `msgpack:"keyhash"`
}

// A migration brings a store from one format to the next. It must be safe
// to run again from the start after a crash: the format is raised in its
// last transaction.
type migration struct {
	what string
	run  func(ctx context.Context, s *Store) error
}

// migrationFrom returns the migration that brings a store of format f to
// f+1.
func migrationFrom(f int) (migration, bool) {
	switch f {
	case 1:
		return migration{"moves the customers' keys into the key file", migrateKeys}, true
	case 2:
		return migration{"moves the identifier secret into the key file and drafts under hashed names", migrateSecret}, true
	case 3:
		return migration{"builds the work queue from the profiles", migrateQueue}, true
	case 4:
		return migration{"raises the format: compressed values and packs of events, which it reads beside the old ones", migratePacks}, true
	}
	return migration{}, false
}

// openFormat checks the layout of the store's data: it makes a new store's
// manifest, refuses a layout this build cannot read, and runs the
// migrations an older one needs. It writes nothing to a store it refuses.
func (s *Store) openFormat(ctx context.Context) error {
	format, err := s.readFormat()
	if err != nil {
		return err
	}
	switch {
	case format == 0:
		if err := s.createStore(); err != nil {
			return err
		}
		format = storeFormat
	case format > storeFormat:
		return fmt.Errorf("%w: the store was written by store format %d, newer than this build reads (%d): open it with a newer release", ErrFormat, format, storeFormat)
	case format >= 2:
		if err := s.openKeys(format, s.restoring); err != nil {
			return err
		}
		// A restore puts the backed-up keys into the new key file before
		// any migration, which opens the values they sealed.
		if s.restored != nil && s.restored.keys != nil {
			if err := s.restoreKeys(s.restored.keys); err != nil {
				return err
			}
		}
	}
	for f := format; f < storeFormat; f++ {
		m, ok := migrationFrom(f)
		if !ok {
			return fmt.Errorf("%w: no migration from store format %d", ErrFormat, f)
		}
		s.logf(ctx, slog.LevelInfo, "memory: migrating the store", "from", f, "to", f+1, "migration", m.what)
		if err := m.run(ctx, s); err != nil {
			return fmt.Errorf("memory: migrate the store from format %d to %d: %w", f, f+1, err)
		}
	}
	if format < storeFormat {
		s.logf(ctx, slog.LevelInfo, "memory: store migrated", "from", format, "to", storeFormat)
	}
	if err := s.compactIfDue(ctx); err != nil {
		return err
	}
	return s.writeFormatFile(storeFormat)
}

// readFormat returns the store format of the data, 0 for an empty
// database, or ErrFormat for data this build does not know.
func (s *Store) readFormat() (int, error) {
	t := s.db.Begin(false)
	defer t.Discard()
	var m manifest
	err := t.Get(keys.Manifest, func(b []byte) error { return codec.Unmarshal(b, &m) })
	switch {
	case err == nil:
		var v int
		if err := t.Get(keys.Format, func(b []byte) error { return codec.Unmarshal(b, &v) }); err != nil {
			return 0, fmt.Errorf("%w: the store has a manifest and no format: %v", ErrFormat, storeErr(err))
		}
		switch {
		case m.Format > storeFormat || v > storeFormat:
			return max(m.Format, v), nil
		case m.Format >= 2 && v > m.Format:
			// A migration to v began: it raises the format key first, so
			// that the releases before refuse the store, and the manifest
			// last. It is run again.
			return m.Format, nil
		case v != m.Format:
			return 0, fmt.Errorf("%w: the manifest says store format %d and the format key %d", ErrFormat, m.Format, v)
		case m.Format < 2:
			return 0, fmt.Errorf("%w: the manifest names store format %d, which had no manifest", ErrFormat, m.Format)
		case m.Layout != layoutName || m.KeyHash != keyHashName:
			return 0, fmt.Errorf("%w: store format %d with an unknown layout %q or key hash %q", ErrFormat, m.Format, m.Layout, m.KeyHash)
		}
		return m.Format, nil
	case !errors.Is(err, kv.ErrNotFound):
		if errors.Is(err, codec.ErrVersion) {
			return 0, fmt.Errorf("%w: the store's manifest was written by a newer release: %v", ErrFormat, err)
		}
		return 0, fmt.Errorf("%w: the store's manifest does not read: %v", ErrFormat, storeErr(err))
	}
	// No manifest: a new database, or format 1, which had none.
	var v int
	err = t.Get(keys.Format, func(b []byte) error { return codec.Unmarshal(b, &v) })
	if errors.Is(err, kv.ErrNotFound) {
		empty, err := isEmpty(t)
		if err != nil {
			return 0, err
		}
		if !empty {
			return 0, fmt.Errorf("%w: the directory holds data without a store format: not a herken store, or one of an unknown layout", ErrFormat)
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: the store format does not read: %v", ErrFormat, storeErr(err))
	}
	switch {
	case v > storeFormat:
		return v, nil
	case v != 1:
		return 0, fmt.Errorf("%w: store format %d without a manifest", ErrFormat, v)
	}
	// Format 1 kept the identifier secret; the layout before it, which
	// kept values in plain text and was never released, did not.
	if ok, err := t.Has(keys.Secret); err != nil {
		return 0, storeErr(err)
	} else if !ok {
		return 0, fmt.Errorf("%w: the store was written by a development layout from before values were sealed, which no release wrote and no migration reads", ErrFormat)
	}
	return 1, nil
}

// isEmpty reports whether the database holds no key at all.
func isEmpty(t kv.Txn) (bool, error) {
	empty := true
	err := t.Scan(nil, true, func(_, _ []byte) error { empty = false; return errStopScan })
	if err != nil && !errors.Is(err, errStopScan) {
		return false, storeErr(err)
	}
	return empty, nil
}

// createStore makes a new store: its wrap key, its key file with the
// identifier secret, then its manifest, so that a store with a manifest
// always has its key file.
func (s *Store) createStore() error {
	t := s.db.Begin(true)
	defer t.Discard()
	if err := s.openKeysIn(t, storeFormat, true, true); err != nil {
		return err
	}
	if err := putManifest(t, storeFormat); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return storeErr(err)
	}
	return s.db.Durable()
}

// openKeys opens the key file of a store of format f and reads the
// store's secrets; with create, it makes the key file and the wrap key, as
// a migration or a restore needs.
func (s *Store) openKeys(f int, create bool) error {
	t := s.db.Begin(true)
	defer t.Discard()
	if err := s.openKeysIn(t, f, create, false); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return storeErr(err)
	}
	return s.db.Durable()
}

// openKeysIn is openKeys in t; fresh makes a new store's identifier secret.
func (s *Store) openKeysIn(t kv.Txn, f int, create, fresh bool) error {
	wrap, made, err := loadWrap(t)
	if err != nil {
		return err
	}
	if made && !create {
		return fmt.Errorf("%w: the store lacks the key of its key file", ErrFormat)
	}
	if s.pg != nil && s.keyfile == nil {
		keys := s.pg.Keys()
		if err := keys.Open(wrap); err != nil {
			return fmt.Errorf("memory: open the key table: %w", storeErr(err))
		}
		s.keyfile = keys
	}
	path := ""
	if !s.opts.inMemory && s.pg == nil {
		path = filepath.Join(s.opts.dir, keyFileName)
		if _, err := os.Stat(path); !create && errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: the key file %s is missing: without it no customer opens; restore it with the directory it belongs to", ErrFormat, path)
		}
	}
	if s.keyfile == nil {
		kf, err := keyfile.Open(path, wrap)
		if errors.Is(err, keyfile.ErrCorrupt) {
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if err != nil {
			return fmt.Errorf("memory: open the key file: %w", err)
		}
		s.keyfile = fileKeys{kf}
	}
	secret, err := s.findSecret(t, f, fresh)
	if err != nil {
		return err
	}
	s.secret = secret
	s.hashers = newHashers(secret)
	return nil
}

// putManifest records that the store has format f: the manifest, and under
// keys.Format the number alone, which the releases before manifests read
// and refuse when it is newer than theirs.
func putManifest(t kv.Txn, f int) error {
	b, err := codec.Marshal(manifest{Format: f, Layout: layoutName, KeyHash: keyHashName})
	if err != nil {
		return err
	}
	if err := t.Set(keys.Manifest, b); err != nil {
		return storeErr(err)
	}
	if b, err = codec.Marshal(f); err != nil {
		return err
	}
	return storeErr(t.Set(keys.Format, b))
}

// logf logs to the logger the options give, if any.
func (s *Store) logf(ctx context.Context, level slog.Level, msg string, args ...any) {
	if l := s.opts.logger; l != nil {
		l.Log(ctx, level, msg, args...)
	}
}

// formatFileName is the file in a store's directory that says its format,
// read before the storage engine opens the directory for writing, so that
// a store this build cannot read is refused with nothing written to it.
// (The manifest in the store is what counts; the file is a copy of it.)
const formatFileName = "herken.format"

// formatFile returns the text of the format file of format f.
func formatFile(f int) []byte {
	return fmt.Appendf(nil, "herken store\nformat %d\nlayout %s\nkeyhash %s\n", f, layoutName, keyHashName)
}

// parseFormatFile reads a format file.
func parseFormatFile(b []byte) (manifest, error) {
	var m manifest
	_, err := fmt.Sscanf(string(b), "herken store\nformat %d\nlayout %s\nkeyhash %s\n", &m.Format, &m.Layout, &m.KeyHash)
	if err != nil {
		return m, fmt.Errorf("%w: %s does not read: %v", ErrFormat, formatFileName, err)
	}
	return m, nil
}

// probeFormat refuses, before the engine opens dir for writing, a store
// this build cannot read: by its format file or, for a directory with data
// and no such file (format 1, or not a store of ours), by opening the engine
// to read only. A directory whose logs need the repair a crash calls for
// cannot be read without writing: the store's own check, after the engine
// opened it, decides then.
func probeFormat(opts Options) error {
	if opts.inMemory || opts.onPostgres {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(opts.dir, formatFileName))
	switch {
	case err == nil:
		m, err := parseFormatFile(b)
		if err != nil {
			return err
		}
		if m.Format > storeFormat {
			return fmt.Errorf("%w: the store was written by store format %d, newer than this build reads (%d): open it with a newer release", ErrFormat, m.Format, storeFormat)
		}
		if m.Layout != layoutName || m.KeyHash != keyHashName {
			return fmt.Errorf("%w: store format %d with an unknown layout %q or key hash %q", ErrFormat, m.Format, m.Layout, m.KeyHash)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("memory: read %s: %w", formatFileName, err)
	}
	if entries, err := os.ReadDir(opts.dir); err != nil || len(entries) == 0 {
		return nil // a new store
	}
	db, err := kv.Open(kv.Options{Dir: opts.dir, ReadOnly: true, EncryptionKey: opts.key, Logger: opts.logger})
	if err != nil {
		return nil
	}
	defer db.Close()
	_, err = (&Store{db: db}).readFormat()
	return err
}

// writeFormatFile writes the format file of a format, unless it says so
// already: to a new file, synced, renamed over the old.
func (s *Store) writeFormatFile(format int) error {
	if s.opts.inMemory || s.pg != nil {
		return nil
	}
	path := filepath.Join(s.opts.dir, formatFileName)
	want := formatFile(format)
	if have, err := os.ReadFile(path); err == nil && string(have) == string(want) {
		return nil
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("memory: write %s: %w", formatFileName, err)
	}
	_, err = f.Write(want)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.opts.dir)
	}
	if err != nil {
		return fmt.Errorf("memory: write %s: %w", formatFileName, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// migratePacks brings a store of format 4 to 5: format 5 reads every value
// of format 4 as it is (a value sealed uncompressed, an event alone), so
// the migration only raises the format, which keeps the releases before
// from reading values they cannot open.
func migratePacks(_ context.Context, s *Store) error {
	t := s.db.Begin(true)
	defer t.Discard()
	if err := putManifest(t, 5); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return storeErr(err)
	}
	return s.db.Durable()
}
