//go:build !wasip1

package pgkv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herken/herken/memory/internal/kv"
)

// The engine's backup stream: backupMagic, then one record an entry
//
//	[4] key length, [key], [4] value length, [value],
//	[8] expiry in Unix microseconds, 0 for none,
//	[4] CRC-32C of the record before it,
//
// and last a record of key length 0 followed by [8] the number of entries
// and [4] the CRC-32C of those 8 bytes, so that a stream cut short is
// refused.
var backupMagic = []byte("herken pgkv 1\n")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBackup is returned by Load for a stream that is not a whole backup of
// this engine.
var ErrBackup = errors.New("pgkv: not a whole backup of the PostgreSQL engine")

// backupPage is how many rows one query of a backup reads.
const backupPage = 512

func (d *DB) backup(w io.Writer, keep func(key []byte) bool) error {
	if _, err := w.Write(backupMagic); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return translate(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	var n uint64
	var rec []byte
	after := []byte{}
	for op := ">="; ; op = ">" {
		rows, err := tx.Query(ctx, `SELECT k, v, expires FROM herken_kv WHERE k `+op+` $1 AND (expires IS NULL OR expires > now()) ORDER BY k LIMIT $2`, after, backupPage)
		if err != nil {
			return translate(err)
		}
		got := 0
		for rows.Next() {
			var k, v []byte
			var exp *time.Time
			if err := rows.Scan(&k, &v, &exp); err != nil {
				rows.Close()
				return translate(err)
			}
			got++
			after = k
			if !keep(k) {
				continue
			}
			var at int64
			if exp != nil {
				at = exp.UnixMicro()
			}
			rec = appendRecord(rec[:0], k, v, at)
			if _, err := w.Write(rec); err != nil {
				rows.Close()
				return err
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return translate(err)
		}
		if got < backupPage {
			break
		}
	}
	end := binary.BigEndian.AppendUint32(nil, 0)
	end = binary.BigEndian.AppendUint64(end, n)
	end = binary.BigEndian.AppendUint32(end, crc32.Checksum(end[4:], castagnoli))
	_, err = w.Write(end)
	return err
}

func appendRecord(rec, k, v []byte, expires int64) []byte {
	rec = binary.BigEndian.AppendUint32(rec, uint32(len(k)))
	rec = append(rec, k...)
	rec = binary.BigEndian.AppendUint32(rec, uint32(len(v)))
	rec = append(rec, v...)
	rec = binary.BigEndian.AppendUint64(rec, uint64(expires))
	return binary.BigEndian.AppendUint32(rec, crc32.Checksum(rec, castagnoli))
}

// loadBatch bounds the entries of one transaction of Load.
const loadBatch = 1000

func (d *DB) load(r io.Reader) error {
	br := bufio.NewReader(r)
	head := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(br, head); err != nil || !bytes.Equal(head, backupMagic) {
		return fmt.Errorf("%w: it does not start as one", ErrBackup)
	}
	var n uint64
	t := d.Begin(true)
	defer func() { t.Discard() }()
	inBatch := 0
	for {
		k, v, at, last, err := readRecord(br, n)
		if err != nil {
			return err
		}
		if last {
			break
		}
		n++
		if at != 0 {
			ttl := time.Until(time.UnixMicro(at))
			if ttl <= 0 {
				continue
			}
			err = t.SetExpiring(k, v, ttl)
		} else {
			err = t.Set(k, v)
		}
		if err != nil {
			return err
		}
		if inBatch++; inBatch >= loadBatch {
			if err := t.Commit(); err != nil {
				return err
			}
			t.Discard()
			t = d.Begin(true)
			inBatch = 0
		}
	}
	return t.Commit()
}

// readRecord reads the record after the n-th: an entry, or the end (last).
func readRecord(br *bufio.Reader, n uint64) (k, v []byte, expires int64, last bool, err error) {
	short := fmt.Errorf("%w: it ends after %d entries", ErrBackup, n)
	var l [4]byte
	if _, err := io.ReadFull(br, l[:]); err != nil {
		return nil, nil, 0, false, short
	}
	kl := binary.BigEndian.Uint32(l[:])
	if kl == 0 {
		var end [12]byte
		if _, err := io.ReadFull(br, end[:]); err != nil {
			return nil, nil, 0, false, short
		}
		if binary.BigEndian.Uint32(end[8:]) != crc32.Checksum(end[:8], castagnoli) || binary.BigEndian.Uint64(end[:8]) != n {
			return nil, nil, 0, false, fmt.Errorf("%w: its end does not match its %d entries", ErrBackup, n)
		}
		return nil, nil, 0, true, nil
	}
	if kl > kv.MaxKeySize {
		return nil, nil, 0, false, fmt.Errorf("%w: a key of %d bytes", ErrBackup, kl)
	}
	k = make([]byte, kl)
	if _, err := io.ReadFull(br, k); err != nil {
		return nil, nil, 0, false, short
	}
	if _, err := io.ReadFull(br, l[:]); err != nil {
		return nil, nil, 0, false, short
	}
	vl := binary.BigEndian.Uint32(l[:])
	if vl > kv.MaxTxnBytes {
		return nil, nil, 0, false, fmt.Errorf("%w: a value of %d bytes", ErrBackup, vl)
	}
	v = make([]byte, vl)
	if _, err := io.ReadFull(br, v); err != nil {
		return nil, nil, 0, false, short
	}
	var tail [12]byte
	if _, err := io.ReadFull(br, tail[:]); err != nil {
		return nil, nil, 0, false, short
	}
	expires = int64(binary.BigEndian.Uint64(tail[:8]))
	if binary.BigEndian.Uint32(tail[8:]) != crc32.Checksum(appendRecord(nil, k, v, expires)[:4+len(k)+4+len(v)+8], castagnoli) {
		return nil, nil, 0, false, fmt.Errorf("%w: entry %d does not match its checksum", ErrBackup, n+1)
	}
	return k, v, expires, false, nil
}
