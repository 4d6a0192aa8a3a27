//go:build !wasip1

package kv

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// repair removes, before Badger opens the directory, the empty memtable
// and value logs that a crash can leave in it, which would make Badger's
// first Open fail (dgraph-io/badger#2207).
//
// Badger creates a log in two steps (ristretto's z.OpenMmapFile): it
// creates the file, then truncates it to its full size and maps it. A crash
// between the two leaves an empty file. Opening it again, z.OpenMmapFile
// grows it and returns z.NewFile, which badger's openMemTables and
// valueLog.open pass up as an error ("while opening fid: N: Create a new
// file"); a second Open succeeds, because the first grew the file. An empty
// log holds nothing: Badger writes a log only once it is sized and mapped.
//
// A repair takes the directory's lock, as Badger does, so that it never
// removes the log that a process that has the database open is creating.
func repair(o Options) error {
	if o.InMemory || o.Dir == "" {
		return nil
	}
	empty, err := emptyLogs(o.Dir)
	if err != nil || len(empty) == 0 {
		return err
	}
	unlock, err := lockDir(o.Dir)
	if errors.Is(err, errLocked) {
		return nil // in use: Badger's Open says so
	}
	if err != nil {
		return err
	}
	defer unlock()
	// Under the lock, what is still empty is no process's log in the making.
	empty, err = emptyLogs(o.Dir)
	if err != nil {
		return err
	}
	for _, name := range empty {
		if err := os.Remove(filepath.Join(o.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("kv: remove the empty log %s a crash left: %w", name, err)
		}
		if o.Logger != nil {
			o.Logger.Warn("kv: removed an empty log that a crash left, which Badger cannot open (dgraph-io/badger#2207)",
				slog.String("dir", o.Dir), slog.String("file", name))
		}
	}
	return nil
}

// emptyLogs returns the names of the empty memtable and value logs in dir;
// none when dir does not exist yet.
func emptyLogs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var empty []string
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".mem")
		if !ok {
			num, ok = strings.CutSuffix(e.Name(), ".vlog")
		}
		if _, err := strconv.Atoi(num); !ok || err != nil || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if info.Size() == 0 {
			empty = append(empty, e.Name())
		}
	}
	return empty, nil
}
