package firehose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// defsFile holds every delivery stream definition, API-created and config-declared, under
// the data dir: {"version":1,"deliveryStreams":[Definition…]}. It is rewritten whole
// (temp file, fsync, rename, fsync of the directory) on every change, so a crash leaves
// either the old or the new list. A save that would write what the file already holds
// writes nothing, so a start with unchanged definitions works on a full disk.
const defsFile = "firehose/delivery-streams.json"

type defsDoc struct {
	Version         int           `json:"version"`
	DeliveryStreams []*Definition `json:"deliveryStreams"`
}

type defStore struct{ path string }

func newDefStore(dataDir string) *defStore {
	if dataDir == "" {
		return &defStore{}
	}
	return &defStore{path: filepath.Join(dataDir, defsFile)}
}

func (s *defStore) load() ([]*Definition, error) {
	if s.path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading delivery streams: %w", err)
	}
	var doc defsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", s.path, err)
	}
	return doc.DeliveryStreams, nil
}

// save persists defs unless the file already holds exactly them (then it touches
// nothing on disk). On error the file keeps its previous content.
func (s *defStore) save(defs []*Definition) error {
	if s.path == "" {
		return nil
	}
	sorted := append([]*Definition(nil), defs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	b, err := json.MarshalIndent(defsDoc{Version: 1, DeliveryStreams: sorted}, "", "  ")
	if err != nil {
		return err
	}
	cur, err := os.ReadFile(s.path)
	if err == nil && bytes.Equal(cur, b) {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) && len(defs) == 0 { // nothing saved, nothing to save
		return nil
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".delivery-streams-*.json")
	if err != nil {
		return fmt.Errorf("saving delivery streams: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving delivery streams: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving delivery streams: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving delivery streams: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("saving delivery streams: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
