package catalog

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Table is one table of the catalog: its columns in order.
type Table struct {
	Database, Name string
	Columns        []Field
}

// Catalog maps "database.table" (lowercase) to tables. It is immutable once built and
// safe for concurrent use.
type Catalog struct {
	tables map[string]*Table
}

// Key is the catalog key of a database and table: lowercase, as Glue stores names.
func Key(database, table string) string {
	return strings.ToLower(database) + "." + strings.ToLower(table)
}

// Lookup returns the table database.table (names are case-insensitive).
func (c *Catalog) Lookup(database, table string) (*Table, bool) {
	if c == nil {
		return nil, false
	}
	t, ok := c.tables[Key(database, table)]
	return t, ok
}

// Names returns the catalog's keys, sorted.
func (c *Catalog) Names() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.tables))
	for k := range c.tables {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ColumnSpec is a column as the config file writes it: `{name: id, type: bigint}`.
type ColumnSpec struct {
	Name string `yaml:"name" json:"name"`
	Type string `yaml:"type" json:"type"`
}

// TableSpec is a table as the config file writes it.
type TableSpec struct {
	Columns []ColumnSpec `yaml:"columns" json:"columns"`
}

// Limits of a table.
const (
	MaxColumns    = 10000
	MaxNameLength = 255
)

// Problem is one thing wrong with a catalog spec, at a path below the catalog
// ("analytics.events.columns[1].type").
type Problem struct {
	Path, Msg string
}

func (p Problem) Error() string { return p.Path + ": " + p.Msg }

// Build checks specs (keyed "database.table") and returns the catalog, or every problem
// found.
func Build(specs map[string]TableSpec) (*Catalog, []Problem) {
	c := &Catalog{tables: map[string]*Table{}}
	var probs []Problem
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		spec := specs[k]
		db, tbl, ok := strings.Cut(k, ".")
		if !ok || db == "" || tbl == "" || strings.Contains(tbl, ".") {
			probs = append(probs, Problem{k, "must be database.table (one dot)"})
			continue
		}
		key := Key(db, tbl)
		if _, dup := c.tables[key]; dup {
			probs = append(probs, Problem{k, "is declared twice (names are case-insensitive)"})
			continue
		}
		if len(spec.Columns) == 0 {
			probs = append(probs, Problem{k + ".columns", "needs at least one column"})
			continue
		}
		if len(spec.Columns) > MaxColumns {
			probs = append(probs, Problem{k + ".columns", fmt.Sprintf("has %d columns, over the limit of %d", len(spec.Columns), MaxColumns)})
			continue
		}
		t := &Table{Database: db, Name: tbl}
		seen := map[string]bool{}
		bad := false
		for i, col := range spec.Columns {
			p := fmt.Sprintf("%s.columns[%d]", k, i)
			name := strings.ToLower(col.Name)
			switch {
			case col.Name == "":
				probs, bad = append(probs, Problem{p + ".name", "is required"}), true
				continue
			case len(col.Name) > MaxNameLength:
				probs, bad = append(probs, Problem{p + ".name", fmt.Sprintf("is %d characters long (allowed 1..%d)", len(col.Name), MaxNameLength)}), true
				continue
			case seen[name]:
				probs, bad = append(probs, Problem{p + ".name", fmt.Sprintf("column %q appears twice (names are case-insensitive)", col.Name)}), true
				continue
			}
			seen[name] = true
			typ, err := ParseType(col.Type)
			if err != nil {
				probs, bad = append(probs, Problem{p + ".type", err.Error()}), true
				continue
			}
			// Glue (and Hive) column names are lowercase
			t.Columns = append(t.Columns, Field{Name: name, Type: typ})
		}
		if !bad {
			c.tables[key] = t
		}
	}
	return c, probs
}

// MaxFileSize bounds a catalog file.
const MaxFileSize = 16 << 20

// LoadFile reads a catalog file: a YAML (or JSON) mapping of database.table to
// `{columns: [{name, type}, …]}`, the shape of the config file's inline catalog.
func LoadFile(path string) (map[string]TableSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d", path, st.Size(), MaxFileSize)
	}
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var specs map[string]TableSpec
	if err := dec.Decode(&specs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return specs, nil
}
