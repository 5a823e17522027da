package streamcore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
)

// DefaultKeyID is the keyring entry that always exists.
const DefaultKeyID = "alias/aws/kinesis"

const iteratorKeyFile = "iterator.key"

// loadIteratorKey reads (or creates) the 32-byte key in dataDir; "" = random per process.
func loadIteratorKey(dataDir string) ([]byte, error) {
	if dataDir == "" {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	}
	path := filepath.Join(dataDir, iteratorKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("iterator key %s: %d bytes, want 32", path, len(b))
		}
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read iterator key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(k); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return k, nil
}

// sealer encrypts record data at rest with AES-256-GCM. Sealed layout:
// [1 byte len(keyID)][keyID][12-byte nonce][ciphertext+tag].
type sealer struct {
	keys   map[string]cipher.AEAD
	prefix [4]byte
	ctr    atomic.Uint64
}

func newSealer(keys map[string][]byte, master []byte) (*sealer, error) {
	s := &sealer{keys: map[string]cipher.AEAD{}}
	if _, err := rand.Read(s.prefix[:]); err != nil {
		return nil, err
	}
	all := map[string][]byte{}
	for id, k := range keys {
		all[id] = k
	}
	if _, ok := all[DefaultKeyID]; !ok {
		d := sha256.Sum256(append(append([]byte{}, master...), DefaultKeyID...))
		all[DefaultKeyID] = d[:]
	}
	for id, k := range all {
		if len(k) != 32 || len(id) > 255 {
			return nil, fmt.Errorf("encryption key %q: need 32 bytes", id)
		}
		b, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		s.keys[id] = g
	}
	return s, nil
}

func (s *sealer) has(id string) bool { _, ok := s.keys[id]; return ok }

func (s *sealer) seal(keyID string, data []byte) ([]byte, error) {
	g, ok := s.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("unknown key %q", keyID)
	}
	out := make([]byte, 0, 1+len(keyID)+12+len(data)+g.Overhead())
	out = append(out, byte(len(keyID)))
	out = append(out, keyID...)
	var nonce [12]byte
	copy(nonce[:4], s.prefix[:])
	binary.BigEndian.PutUint64(nonce[4:], s.ctr.Add(1))
	out = append(out, nonce[:]...)
	return g.Seal(out, nonce[:], data, []byte(keyID)), nil
}

func (s *sealer) open(sealed []byte) ([]byte, error) {
	if len(sealed) < 1 {
		return nil, errors.New("sealed record too short")
	}
	n := int(sealed[0])
	if len(sealed) < 1+n+12 {
		return nil, errors.New("sealed record too short")
	}
	id := string(sealed[1 : 1+n])
	g, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("record sealed with unknown key %q", id)
	}
	nonce := sealed[1+n : 1+n+12]
	return g.Open(nil, nonce, sealed[1+n+12:], []byte(id))
}
