package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const conversionYAML = `firehose:
  catalog:
    analytics.events:
      columns:
        - {name: id, type: bigint}
        - {name: tags, type: "array<string>"}
delivery_streams:
  - name: events
    buffer: {size: %SIZE%}
    destination:
      s3:
        bucket: lake
        data_format_conversion: {database: analytics, table: %TABLE%, compression: ZSTD}
`

func conversionFile(size, table string) []byte {
	return []byte(strings.NewReplacer("%SIZE%", size, "%TABLE%", table).Replace(conversionYAML))
}

func TestConversionCatalogAndWarning(t *testing.T) {
	c, err := Parse("t.yaml", conversionFile("64MiB", "events"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings at 64MiB: %v", c.Warnings)
	}
	if tb, ok := c.Firehose.Tables().Lookup("analytics", "events"); !ok || len(tb.Columns) != 2 {
		t.Fatalf("catalog: %v %+v", ok, tb)
	}
	c, err = Parse("t.yaml", conversionFile("8MiB", "events"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Error(), "t.yaml:9:") ||
		!strings.Contains(c.Warnings[0].Error(), "delivery_streams[0].buffer.size: is 8MiB: with record format conversion AWS requires buffers of at least 64MiB") {
		t.Errorf("warnings at 8MiB: %v", c.Warnings)
	}
	_, err = Parse("t.yaml", conversionFile("64MiB", "clicks"))
	if err == nil || !strings.Contains(err.Error(), "delivery_streams[0].destination.s3: Table analytics.clicks was not found in Sluice's catalog") {
		t.Errorf("unknown table: %v", err)
	}
}

func TestConversionYAMLProblems(t *testing.T) {
	src := `firehose:
  catalog:
    analytics.events:
      columns:
        - {name: id, type: "decimal(40,2)"}
delivery_streams:
  - name: events
    destination:
      s3:
        bucket: lake
        compression: GZIP
        data_format_conversion: {database: analytics, table: events, serializer: orc, block_size_bytes: 1024, deserializer: hive, timestamp_formats: ["yyyy-QQ"]}
`
	_, err := Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"firehose.catalog.analytics.events.columns[0].type: type \"decimal(40,2)\": decimal precision 40 is out of range (allowed 1..38)",
		"delivery_streams[0].destination.s3.data_format_conversion.serializer: orc is not supported by Sluice (there is no maintained ORC writer for Go); use parquet",
		"delivery_streams[0].destination.s3.data_format_conversion.timestamp_formats[0]: \"yyyy-QQ\": pattern letter 'Q' is not supported",
		"delivery_streams[0].destination.s3.compression: must be UNCOMPRESSED with data_format_conversion",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

func TestCatalogFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "catalog.yaml")
	os.WriteFile(p, []byte("shop.orders:\n  columns:\n    - {name: id, type: bigint}\n"), 0o644)
	c, err := Parse("t.yaml", []byte("firehose:\n  catalog_file: "+p+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Firehose.Tables().Lookup("shop", "orders"); !ok {
		t.Error("table of the file not in the catalog")
	}
	_, err = Parse("t.yaml", []byte("firehose:\n  catalog_file: "+p+"\n  catalog:\n    shop.orders: {columns: [{name: a, type: int}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "table shop.orders is declared both in firehose.catalog and in") {
		t.Errorf("duplicate: %v", err)
	}
}
