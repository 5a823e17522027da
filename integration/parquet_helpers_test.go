//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/integration/harness"
)

// readParquetScript reads each Parquet file named on the command line with pyarrow and
// with DuckDB and prints, per file, what each reader saw: the schema (column → type),
// the compression codec of the first column chunk, and the rows as JSON-able values
// (decimals as strings, timestamps and dates in ISO 8601, binary as hex, maps as objects).
const readParquetScript = `
import base64, datetime, decimal, json, sys
import duckdb, pyarrow as pa, pyarrow.parquet as pq

def norm(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.isoformat()
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        if set(v.keys()) == {"key", "value"} and isinstance(v["key"], list):
            return {str(k): norm(x) for k, x in zip(v["key"], v["value"])}
        return {str(k): norm(x) for k, x in v.items()}
    if isinstance(v, list):
        if v and all(isinstance(e, tuple) and len(e) == 2 for e in v):
            return {str(k): norm(x) for k, x in v}
        return [norm(e) for e in v]
    return v

def pnorm(v, t):
    # pyarrow: maps come as lists of pairs; the type says which lists are maps
    if v is None:
        return None
    if pa.types.is_map(t):
        return {str(k): pnorm(x, t.item_type) for k, x in v}
    if pa.types.is_list(t):
        return [pnorm(e, t.value_type) for e in v]
    if pa.types.is_struct(t):
        return {t.field(i).name: pnorm(v[t.field(i).name], t.field(i).type) for i in range(t.num_fields)}
    return norm(v)

out = {}
for path in sys.argv[1:]:
    f = pq.ParquetFile(path)
    t = f.read()
    rows = [{fld.name: pnorm(r[fld.name], fld.type) for fld in t.schema} for r in t.to_pylist()]
    md = f.metadata
    par = {"schema": {fld.name: str(fld.type) for fld in t.schema}, "rows": rows,
          "codec": md.row_group(0).column(0).compression if md.num_row_groups else "", "row_groups": md.num_row_groups,
          "created_by": md.created_by}
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rel = con.execute("SELECT * FROM read_parquet(?)", [path])
    names = [d[0] for d in rel.description]
    drows = [{n: norm(v) for n, v in zip(names, r)} for r in rel.fetchall()]
    types = {r[0]: r[1] for r in con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))", [path]).fetchall()}
    out[path] = {"pyarrow": par, "duckdb": {"schema": types, "rows": drows}}
print(json.dumps(out))
`

// parquetRead is what one reader saw in one file.
type parquetRead struct {
	Schema    map[string]string `json:"schema"`
	Rows      []map[string]any  `json:"rows"`
	Codec     string            `json:"codec"`
	RowGroups int               `json:"row_groups"`
	CreatedBy string            `json:"created_by"`
}

type parquetFile struct {
	Key     string
	PyArrow parquetRead `json:"pyarrow"`
	DuckDB  parquetRead `json:"duckdb"`
}

// readParquet downloads the objects under prefix and reads them with pyarrow and DuckDB.
func readParquet(t *testing.T, m *harness.MinIOServer, bucket, prefix string) []parquetFile {
	t.Helper()
	ctx := context.Background()
	keys, err := m.Objects(ctx, bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		return nil
	}
	dir := t.TempDir()
	byPath := map[string]string{}
	var paths []string
	for i, k := range keys {
		b, _, err := m.Get(ctx, bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.Repeat("0", 4-len(itoa(i)))+itoa(i)+".parquet")
		os.WriteFile(p, b, 0o644)
		byPath[p] = k
		paths = append(paths, p)
	}
	var got map[string]parquetFile
	out := harness.RunPython(t, readParquetScript, paths...)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("reader output: %v\n%s", err, out)
	}
	var files []parquetFile
	for p, f := range got {
		f.Key = byPath[p]
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Key < files[j].Key })
	return files
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// waitParquetRows polls until the Parquet objects under prefix hold n rows in all (read
// by pyarrow) and returns the files.
func waitParquetRows(t *testing.T, m *harness.MinIOServer, bucket, prefix string, n int, timeout time.Duration) []parquetFile {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		keys, _ := m.Objects(context.Background(), bucket, prefix)
		if len(keys) > 0 {
			files := readParquet(t, m, bucket, prefix)
			got := 0
			for _, f := range files {
				got += len(f.PyArrow.Rows)
			}
			if got >= n {
				return files
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d rows under s3://%s/%s after %s", got, n, bucket, prefix, timeout)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("no object under s3://%s/%s after %s", bucket, prefix, timeout)
		}
		time.Sleep(time.Second)
	}
}

// jsonText is v as compact JSON with sorted keys (for comparing rows).
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
