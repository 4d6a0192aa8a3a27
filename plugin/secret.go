package plugin

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secrets are the handler's secrets as a secret file keeps them: Secret
// signs, Previous (newest first) still verify. Pass them on as
// Options.Secret and Options.PreviousSecrets.
type Secrets struct {
	Secret   []byte
	Previous [][]byte
}

const (
	minSecret  = 32 // bytes of a secret, at least
	newSecret  = 32 // bytes of a secret the file helpers make
	maxSecrets = 8  // secrets a handler or a file holds, the current one included
)

// ErrSecretFile is returned, wrapped with the path and what is wrong, when
// a secret file cannot be read as one: test for it with errors.Is.
var ErrSecretFile = errors.New("plugin: bad secret file")

// LoadSecrets reads the secret file at path, making it with one new random
// secret when there is none. Keep the file where the server keeps its own
// secrets, readable by the server alone (the helpers write it with
// permission 0600), and the same on every instance: the same secret across
// restarts keeps every device recognized.
//
// The file is text: one secret a line, base64 (standard encoding), the
// current secret first and then the previous ones, newest first; lines
// that are empty or start with # are comments. The helpers replace it
// whole (a new file, synced, renamed over the old), so that a crash leaves
// the old file or the new one.
func LoadSecrets(path string) (Secrets, error) {
	s, err := readSecrets(path)
	if errors.Is(err, os.ErrNotExist) {
		// A link to a file not there yet (a secret mount not ready) is no
		// missing file: making a new secret over it would make every
		// device a stranger.
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return Secrets{}, fmt.Errorf("%w: %s is a link to a file that does not exist", ErrSecretFile, path)
		}
		s = Secrets{Secret: randomSecret()}
		return s, WriteSecrets(path, s)
	}
	return s, err
}

// RotateSecrets makes a new random secret the current one in the secret
// file at path (made when there is none) and keeps the one it replaces
// first among the previous ones, and returns what the file holds then.
// Restart every handler with them: new devices and identity tokens are
// signed with the new secret, and devices signed with an old one keep
// their memory until it is dropped. It fails when the file already holds
// the most secrets a handler takes (8): drop the old ones first.
func RotateSecrets(path string) (Secrets, error) {
	s, err := LoadSecrets(path)
	if err != nil {
		return Secrets{}, err
	}
	if 1+len(s.Previous) >= maxSecrets {
		return Secrets{}, fmt.Errorf("%w: %s holds %d secrets already; drop the previous ones first", ErrSecretFile, path, maxSecrets)
	}
	s = Secrets{Secret: randomSecret(), Previous: append([][]byte{s.Secret}, s.Previous...)}
	return s, WriteSecrets(path, s)
}

// DropPreviousSecrets keeps the current secret and the keep newest previous
// ones in the secret file at path, dropping the rest, and returns what the
// file holds then. Devices signed with a dropped secret become strangers
// once the handlers restart with what it returns, whether or not they came
// back since the rotation: a device keeps the secret that signed it, for
// its memory's sake (its identifier in the store is keyed by it). So drop
// a secret when the memory of browsers nobody signed in on may go
// (signed-in customers find theirs again at their next sign-in), or at
// once when it has leaked.
func DropPreviousSecrets(path string, keep int) (Secrets, error) {
	s, err := readSecrets(path)
	if err != nil {
		return Secrets{}, err
	}
	if keep < 0 {
		keep = 0
	}
	if len(s.Previous) > keep {
		s.Previous = s.Previous[:keep]
	}
	if len(s.Previous) == 0 {
		s.Previous = nil
	}
	return s, WriteSecrets(path, s)
}

// WriteSecrets writes s as the secret file at path, replacing it whole,
// with permission 0600, such as to bring in a secret kept elsewhere before.
func WriteSecrets(path string, s Secrets) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSecretFile, path, err)
	}
	var b bytes.Buffer
	b.WriteString("# herken plugin secrets: the current one first, then the previous ones, newest first.\n")
	for _, sec := range append([][]byte{s.Secret}, s.Previous...) {
		b.WriteString(base64.StdEncoding.EncodeToString(sec))
		b.WriteByte('\n')
	}
	if err := writeFileAtomic(path, b.Bytes()); err != nil {
		return fmt.Errorf("plugin: write the secret file %s (its folder must exist and be writable): %w", path, err)
	}
	return nil
}

func (s Secrets) check() error {
	if len(s.Secret) < minSecret {
		return errors.New("the current secret has fewer than 32 bytes")
	}
	for i, p := range s.Previous {
		if len(p) < minSecret {
			return fmt.Errorf("previous secret %d has fewer than 32 bytes", i+1)
		}
	}
	if 1+len(s.Previous) > maxSecrets {
		return fmt.Errorf("more than %d secrets", maxSecrets)
	}
	return nil
}

// readSecrets reads a secret file; its error wraps os.ErrNotExist when
// there is none.
func readSecrets(path string) (Secrets, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Secrets{}, fmt.Errorf("plugin: read the secret file: %w", err)
	}
	var all [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sec, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return Secrets{}, fmt.Errorf("%w: %s line %d: not base64", ErrSecretFile, path, n)
		}
		all = append(all, sec)
	}
	if err := sc.Err(); err != nil {
		return Secrets{}, fmt.Errorf("%w: %s: %w", ErrSecretFile, path, err)
	}
	if len(all) == 0 {
		return Secrets{}, fmt.Errorf("%w: %s holds no secret", ErrSecretFile, path)
	}
	s := Secrets{Secret: all[0]}
	if len(all) > 1 {
		s.Previous = all[1:]
	}
	if err := s.check(); err != nil {
		return Secrets{}, fmt.Errorf("%w: %s: %w", ErrSecretFile, path, err)
	}
	return s, nil
}

func randomSecret() []byte {
	b := make([]byte, newSecret)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// writeFileAtomic writes data to path through a synced temporary file in
// the same folder, renamed over path, and syncs the folder.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, there is nothing left to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func cloneSecrets(ss [][]byte) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = bytes.Clone(s)
	}
	return out
}
