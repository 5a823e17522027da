//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
)

// parquetCatalog is the firehose.catalog of these tests.
const parquetCatalog = `  catalog:
    shop.orders:
      columns:
        - {name: id, type: bigint}
        - {name: qty, type: int}
        - {name: small, type: smallint}
        - {name: tiny, type: tinyint}
        - {name: price, type: double}
        - {name: ratio, type: float}
        - {name: paid, type: boolean}
        - {name: name, type: string}
        - {name: code, type: "char(3)"}
        - {name: note, type: "varchar(20)"}
        - {name: created, type: timestamp}
        - {name: day, type: date}
        - {name: amount, type: "decimal(10,2)"}
        - {name: big, type: "decimal(30,5)"}
        - {name: tags, type: "array<string>"}
        - {name: attrs, type: "map<string,int>"}
        - {name: address, type: "struct<city:string,zip:int>"}
        - {name: lines, type: "array<struct<sku:string,n:int>>"}
    shop.v1:
      columns:
        - {name: id, type: bigint}
        - {name: region, type: string}
    shop.v2:
      columns:
        - {name: id, type: bigint}
        - {name: region, type: string}
        - {name: score, type: "decimal(5,1)"}
`

// parquetS3 is an ExtendedS3DestinationConfiguration converting to Parquet with table
// shop.<table> and the given Parquet compression.
func parquetS3(bucket, prefix, table string, codec types.ParquetCompression) *types.ExtendedS3DestinationConfiguration {
	cfg := extS3(bucket, prefix, types.CompressionFormatUncompressed, 1)
	cfg.ErrorOutputPrefix = aws.String(strings.TrimSuffix(prefix, "/") + "-err/!{firehose:error-output-type}/")
	cfg.DataFormatConversionConfiguration = &types.DataFormatConversionConfiguration{
		Enabled:                  aws.Bool(true),
		SchemaConfiguration:      &types.SchemaConfiguration{DatabaseName: aws.String("shop"), TableName: aws.String(table), RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose")},
		InputFormatConfiguration: &types.InputFormatConfiguration{Deserializer: &types.Deserializer{OpenXJsonSerDe: &types.OpenXJsonSerDe{}}},
		OutputFormatConfiguration: &types.OutputFormatConfiguration{Serializer: &types.Serializer{ParquetSerDe: &types.ParquetSerDe{
			Compression: codec}}},
	}
	return cfg
}

func startParquetSluice(t *testing.T, m *harness.MinIOServer) (*harness.Sluice, *firehose.Client) {
	t.Helper()
	harness.ParquetPython(t) // fail early, before the servers, when the readers cannot be had
	s := startFirehoseSluiceWith(t, m, parquetCatalog, "")
	return s, firehoseClient(s.Endpoint)
}

func put(t *testing.T, c *firehose.Client, stream string, recs ...string) {
	t.Helper()
	var rs []types.Record
	for _, r := range recs {
		rs = append(rs, types.Record{Data: []byte(r)})
	}
	out, err := c.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: rs})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v %+v", err, out)
	}
}

// Every type of the catalog, nulls, nested values and decimals, read back by pyarrow and
// DuckDB; records that do not fit go to format-conversion-failed while the rest of their
// batch is delivered; the API refuses ORC, an unknown table and compressed output.
func TestParquetTypesReadByPyArrowAndDuckDB(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "pq-types")
	s, c := startParquetSluice(t, m)
	ctx := context.Background()
	if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("orders"),
		ExtendedS3DestinationConfiguration: parquetS3(bucket, "orders/", "orders", types.ParquetCompressionSnappy)}); err != nil {
		t.Fatal(err)
	}
	good := []string{
		`{"id":1,"qty":-5,"small":300,"tiny":-7,"price":12.5,"ratio":0.25,"paid":true,"name":"Ana","code":"FRA","note":"first",` +
			`"created":"2026-07-13T14:05:09.123456Z","day":"2026-07-13","amount":"19.99","big":"-1234567890123456789012.34567",` +
			`"tags":["a","b"],"attrs":{"x":1,"y":2},"address":{"city":"Paris","zip":75001},"lines":[{"sku":"s1","n":2},{"sku":"s2","n":null}]}`,
		`{"ID":2,"Name":"Bo","tags":[],"attrs":{},"address":null,"lines":null,"created":1783951509000,"amount":5,"paid":false,"extra":"ignored"}`,
		`{"id":4}` + "\n" + `{"id":5,"tiny":127,"tags":[null,"z"],"address":{"zip":1}}`,
	}
	bad := []string{`{"id":"nope"}`, `[{"id":3}]`, `{"id":1,"tiny":128}`, `{"id":1,"amount":123456789.5}`}
	put(t, c, "orders", append(append([]string{}, good[:2]...), append(bad, good[2])...)...)

	files := waitParquetRows(t, m, bucket, "orders/", 4, 90*time.Second)
	re := keyRE(`orders/\d{4}/\d{2}/\d{2}/\d{2}/`, "orders", ".parquet")
	var pa, dk []map[string]any
	for _, f := range files {
		if !re.MatchString(f.Key) {
			t.Errorf("key %q does not follow <prefix>YYYY/MM/DD/HH/<stream>-<version>-<time>-<uuid>.parquet", f.Key)
		}
		_, out, err := m.Get(ctx, bucket, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		if ce := aws.ToString(out.ContentEncoding); ce != "" {
			t.Errorf("%s: Content-Encoding %q on a Parquet object", f.Key, ce)
		}
		if f.PyArrow.Codec != "SNAPPY" {
			t.Errorf("%s: codec %q, want SNAPPY", f.Key, f.PyArrow.Codec)
		}
		pa = append(pa, f.PyArrow.Rows...)
		dk = append(dk, f.DuckDB.Rows...)
		wantPA := map[string]string{"id": "int64", "qty": "int32", "small": "int16", "tiny": "int8", "price": "double", "ratio": "float",
			"paid": "bool", "name": "string", "code": "string", "note": "string", "created": "timestamp[us, tz=UTC]", "day": "date32[day]",
			"amount": "decimal128(10, 2)", "big": "decimal128(30, 5)", "tags": "list<element: string>", "attrs": "map<string, int32 ('attrs')>", // pyarrow names the map's entries after the column
			"address": "struct<city: string, zip: int32>", "lines": "list<element: struct<sku: string, n: int32>>"}
		if jsonText(f.PyArrow.Schema) != jsonText(wantPA) {
			t.Errorf("pyarrow schema\n got %s\nwant %s", jsonText(f.PyArrow.Schema), jsonText(wantPA))
		}
		wantDK := map[string]string{"id": "BIGINT", "qty": "INTEGER", "small": "SMALLINT", "tiny": "TINYINT", "price": "DOUBLE", "ratio": "FLOAT",
			"paid": "BOOLEAN", "name": "VARCHAR", "code": "VARCHAR", "note": "VARCHAR", "created": "TIMESTAMP WITH TIME ZONE", "day": "DATE",
			"amount": "DECIMAL(10,2)", "big": "DECIMAL(30,5)", "tags": "VARCHAR[]", "attrs": "MAP(VARCHAR, INTEGER)",
			"address": "STRUCT(city VARCHAR, zip INTEGER)", "lines": "STRUCT(sku VARCHAR, n INTEGER)[]"}
		if jsonText(f.DuckDB.Schema) != jsonText(wantDK) {
			t.Errorf("duckdb schema\n got %s\nwant %s", jsonText(f.DuckDB.Schema), jsonText(wantDK))
		}
	}
	nulls := func(m map[string]any) map[string]any {
		for _, k := range []string{"id", "qty", "small", "tiny", "price", "ratio", "paid", "name", "code", "note", "created", "day",
			"amount", "big", "tags", "attrs", "address", "lines"} {
			if _, ok := m[k]; !ok {
				m[k] = nil
			}
		}
		return m
	}
	want := []map[string]any{
		nulls(map[string]any{"id": 1, "qty": -5, "small": 300, "tiny": -7, "price": 12.5, "ratio": 0.25, "paid": true, "name": "Ana", "code": "FRA",
			"note": "first", "created": "2026-07-13T14:05:09.123456", "day": "2026-07-13", "amount": "19.99", "big": "-1234567890123456789012.34567",
			"tags": []any{"a", "b"}, "attrs": map[string]any{"x": 1, "y": 2}, "address": map[string]any{"city": "Paris", "zip": 75001},
			"lines": []any{map[string]any{"sku": "s1", "n": 2}, map[string]any{"sku": "s2", "n": nil}}}),
		nulls(map[string]any{"id": 2, "name": "Bo", "tags": []any{}, "attrs": map[string]any{}, "paid": false,
			"created": time.UnixMilli(1783951509000).UTC().Format("2006-01-02T15:04:05"), "amount": "5.00"}),
		nulls(map[string]any{"id": 4}),
		nulls(map[string]any{"id": 5, "tiny": 127, "tags": []any{nil, "z"}, "address": map[string]any{"city": nil, "zip": 1}}),
	}
	for name, rows := range map[string][]map[string]any{"pyarrow": pa, "duckdb": dk} {
		if len(rows) != len(want) {
			t.Errorf("%s: %d rows, want %d: %s", name, len(rows), len(want), jsonText(rows))
			continue
		}
		for i := range want {
			if g, w := jsonText(rows[i]), jsonText(want[i]); g != w {
				t.Errorf("%s row %d\n got %s\nwant %s", name, i, g, w)
			}
		}
	}

	// the records that do not fit: format-conversion-failed with §5.5's fields
	var fails []map[string]any
	harness.Eventually(t, 60*time.Second, func() error {
		fails = nil
		for _, d := range readObjects(t, m, bucket, "orders-err/format-conversion-failed/", "UNCOMPRESSED") {
			for _, l := range lines(d) {
				var f map[string]any
				if err := json.Unmarshal([]byte(l), &f); err != nil {
					return err
				}
				fails = append(fails, f)
			}
		}
		if len(fails) < len(bad) {
			return fmt.Errorf("%d of %d failure records", len(fails), len(bad))
		}
		return nil
	})
	codes := map[string]int{}
	raws := map[string]bool{}
	for _, f := range fails {
		codes[f["lastErrorCode"].(string)]++
		raw, _ := json.Marshal(f["rawData"])
		var b []byte
		json.Unmarshal(raw, &b)
		raws[string(b)] = true
		for _, k := range []string{"attemptsMade", "arrivalTimestamp", "lastErrorMessage", "attemptEndingTimestamp", "sequenceNumber", "subSequenceNumber"} {
			if _, ok := f[k]; !ok {
				t.Errorf("failure record lacks %s: %v", k, f)
			}
		}
		tbl, _ := f["dataCatalogTable"].(map[string]any)
		if tbl["databaseName"] != "shop" || tbl["tableName"] != "orders" || tbl["versionId"] != "LATEST" {
			t.Errorf("dataCatalogTable %v", f["dataCatalogTable"])
		}
	}
	if codes["DataFormatConversion.MalformedData"] != 3 || codes["DataFormatConversion.ParseError"] != 1 {
		t.Errorf("error codes %v", codes)
	}
	for _, b := range bad {
		if !raws[b] {
			t.Errorf("rawData of %s not in the failure records", b)
		}
	}
	metrics := httpGet(t, s.Endpoint+"/metrics")
	for _, w := range []string{`sluice_firehose_conversion_records_total{result="failed",stream="orders"} 4`,
		`sluice_firehose_conversion_records_total{result="ok",stream="orders"} 3`} {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}

	// what the API refuses
	refuse := func(name string, cfg *types.ExtendedS3DestinationConfiguration, want string) {
		t.Helper()
		_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name), ExtendedS3DestinationConfiguration: cfg})
		var iae *types.InvalidArgumentException
		if !errors.As(err, &iae) || !strings.Contains(aws.ToString(iae.Message), want) {
			t.Errorf("%s: %v, want InvalidArgumentException with %q", name, err, want)
		}
	}
	orc := parquetS3(bucket, "x/", "orders", "")
	orc.DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer = &types.Serializer{OrcSerDe: &types.OrcSerDe{}}
	refuse("orc", orc, "OrcSerDe is not supported by Sluice: there is no maintained ORC writer for Go")
	refuse("unknown-table", parquetS3(bucket, "x/", "nope", ""), "Table shop.nope was not found in Sluice's catalog")
	gz := parquetS3(bucket, "x/", "orders", "")
	gz.CompressionFormat = types.CompressionFormatGzip
	refuse("gzip", gz, "CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled")
	small := parquetS3(bucket, "x/", "orders", "")
	small.DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.ParquetSerDe.BlockSizeBytes = aws.Int32(1 << 20)
	_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("small"), ExtendedS3DestinationConfiguration: small})
	if err == nil || !strings.Contains(err.Error(), "blockSizeBytes' failed to satisfy constraint: Member must have value greater than or equal to 67108864") {
		t.Errorf("BlockSizeBytes 1 MiB: %v", err)
	}

	// Describe shows the conversion with its defaults
	d, err := c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	dfc := d.DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.DataFormatConversionConfiguration
	pq := dfc.OutputFormatConfiguration.Serializer.ParquetSerDe
	if !aws.ToBool(dfc.Enabled) || aws.ToInt32(pq.BlockSizeBytes) != 256<<20 || aws.ToInt32(pq.PageSizeBytes) != 1<<20 ||
		pq.Compression != types.ParquetCompressionSnappy || pq.WriterVersion != types.ParquetWriterVersionV1 ||
		aws.ToString(dfc.SchemaConfiguration.TableName) != "orders" {
		t.Errorf("Describe: %+v %+v", dfc, pq)
	}
}

// Every Parquet compression codec (ZSTD is Sluice's), and dynamic partitions that each get
// their own files.
func TestParquetCodecsAndDynamicPartitions(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "pq-codecs")
	_, c := startParquetSluice(t, m)
	ctx := context.Background()
	codecs := map[types.ParquetCompression]string{types.ParquetCompressionUncompressed: "UNCOMPRESSED", types.ParquetCompressionGzip: "GZIP",
		types.ParquetCompressionSnappy: "SNAPPY", "ZSTD": "ZSTD"}
	for codec := range codecs {
		name := "c-" + strings.ToLower(string(codec))
		if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(name),
			ExtendedS3DestinationConfiguration: parquetS3(bucket, name+"/", "v1", codec)}); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		var recs []string
		for i := range 200 {
			recs = append(recs, fmt.Sprintf(`{"id":%d,"region":"r%d"}`, i, i%3))
		}
		put(t, c, name, recs...)
	}
	for codec, label := range codecs {
		name := "c-" + strings.ToLower(string(codec))
		files := waitParquetRows(t, m, bucket, name+"/", 200, 90*time.Second)
		ids := map[float64]bool{}
		for _, f := range files {
			if f.PyArrow.Codec != label {
				t.Errorf("%s: %s codec %q", label, f.Key, f.PyArrow.Codec)
			}
			if len(f.DuckDB.Rows) != len(f.PyArrow.Rows) {
				t.Errorf("%s: %s: duckdb %d rows, pyarrow %d", label, f.Key, len(f.DuckDB.Rows), len(f.PyArrow.Rows))
			}
			for i, r := range f.PyArrow.Rows {
				ids[r["id"].(float64)] = true
				if jsonText(r) != jsonText(f.DuckDB.Rows[i]) {
					t.Errorf("%s: readers disagree: %s vs %s", label, jsonText(r), jsonText(f.DuckDB.Rows[i]))
				}
				if r["region"] != fmt.Sprintf("r%d", int(r["id"].(float64))%3) {
					t.Errorf("%s: row %v", label, r)
				}
			}
		}
		if len(ids) != 200 {
			t.Errorf("%s: %d distinct ids of 200", label, len(ids))
		}
	}

	// dynamic partitioning: one buffer, so one file per flush, per region
	cfg := parquetS3(bucket, "dp/region=!{partitionKeyFromQuery:region}/", "v1", types.ParquetCompressionSnappy)
	cfg.ErrorOutputPrefix = aws.String("dp-err/!{firehose:error-output-type}/")
	cfg.DynamicPartitioningConfiguration = &types.DynamicPartitioningConfiguration{Enabled: aws.Bool(true)}
	cfg.ProcessingConfiguration = &types.ProcessingConfiguration{Enabled: aws.Bool(true), Processors: []types.Processor{
		{Type: types.ProcessorTypeMetadataExtraction, Parameters: []types.ProcessorParameter{
			{ParameterName: types.ProcessorParameterNameMetadataExtractionQuery, ParameterValue: aws.String("{region: .region}")},
			{ParameterName: types.ProcessorParameterNameJsonParsingEngine, ParameterValue: aws.String("JQ-1.6")},
		}},
	}}
	if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("parts"),
		ExtendedS3DestinationConfiguration: cfg}); err != nil {
		t.Fatal(err)
	}
	var recs []string
	for i := range 300 {
		recs = append(recs, fmt.Sprintf(`{"id":%d,"region":"eu-%d"}`, i, i%3))
	}
	put(t, c, "parts", recs...)
	for r := range 3 {
		region := fmt.Sprintf("eu-%d", r)
		files := waitParquetRows(t, m, bucket, "dp/region="+region+"/", 100, 90*time.Second)
		n := 0
		for _, f := range files {
			if !keyRE(`dp/region=`+region+`/`, "parts", ".parquet").MatchString(f.Key) {
				t.Errorf("key %q", f.Key)
			}
			for _, row := range f.PyArrow.Rows {
				n++
				if row["region"] != region {
					t.Errorf("row %v in the files of partition %s", row, region)
				}
			}
		}
		if n != 100 {
			t.Errorf("partition %s: %d rows, want 100", region, n)
		}
	}
}

// A schema change through UpdateDestination takes effect at a buffer boundary: files
// written before it have the old table's columns, files after it the new one's, and no
// file mixes them.
func TestParquetUpdateDestinationSchemaChange(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "pq-schema")
	_, c := startParquetSluice(t, m)
	ctx := context.Background()
	if _, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("evolve"),
		ExtendedS3DestinationConfiguration: parquetS3(bucket, "ev/", "v1", types.ParquetCompressionSnappy)}); err != nil {
		t.Fatal(err)
	}
	var before []string
	for i := range 50 {
		before = append(before, fmt.Sprintf(`{"id":%d,"region":"a","score":%d.5}`, i, i))
	}
	put(t, c, "evolve", before...)
	waitParquetRows(t, m, bucket, "ev/", 50, 90*time.Second)

	upd := &types.ExtendedS3DestinationUpdate{DataFormatConversionConfiguration: &types.DataFormatConversionConfiguration{
		SchemaConfiguration: &types.SchemaConfiguration{DatabaseName: aws.String("shop"), TableName: aws.String("v2")}}}
	if _, err := c.UpdateDestination(ctx, &firehose.UpdateDestinationInput{DeliveryStreamName: aws.String("evolve"),
		CurrentDeliveryStreamVersionId: aws.String("1"), DestinationId: aws.String("destinationId-000000000001"),
		ExtendedS3DestinationUpdate: upd}); err != nil {
		t.Fatal(err)
	}
	var after []string
	for i := 50; i < 100; i++ {
		after = append(after, fmt.Sprintf(`{"id":%d,"region":"b","score":%d.5}`, i, i))
	}
	put(t, c, "evolve", after...)
	files := waitParquetRows(t, m, bucket, "ev/", 100, 90*time.Second)
	seen := map[float64]bool{}
	for _, f := range files {
		v2 := strings.Contains(f.Key, "/evolve-2-")
		_, hasScore := f.PyArrow.Schema["score"]
		if hasScore != v2 {
			t.Errorf("%s: schema %v (version 2 file: %v)", f.Key, f.PyArrow.Schema, v2)
		}
		for _, r := range f.PyArrow.Rows {
			id := r["id"].(float64)
			seen[id] = true
			switch {
			case id < 50 && (v2 || r["region"] != "a"):
				t.Errorf("%s: row %v from before the update", f.Key, r)
			case id >= 50 && (!v2 || r["region"] != "b" || r["score"] != fmt.Sprintf("%d.5", int(id))):
				t.Errorf("%s: row %v from after the update", f.Key, r)
			}
		}
		if v2 && f.DuckDB.Schema["score"] != "DECIMAL(5,1)" {
			t.Errorf("duckdb schema %v", f.DuckDB.Schema)
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct rows of 100", len(seen))
	}
}

// A delivery stream declared in the config file converts with the Hive JSON SerDe and its
// TimestampFormats (millis and a Joda-Time pattern) before the default formats.
func TestParquetConfigDeclaredHiveSerDe(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "pq-hive")
	harness.ParquetPython(t)
	catalog := parquetCatalog + `    shop.hv:
      columns:
        - {name: id, type: bigint}
        - {name: at, type: timestamp}
`
	ds := "delivery_streams:\n  - name: hive-events\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n" +
		s3YAML(m, bucket, `, prefix: hv/, error_output_prefix: hv-err/, data_format_conversion: {database: shop, table: hv, deserializer: hive, `+
			`timestamp_formats: [millis, "dd/MM/yyyy HH:mm:ss"], compression: ZSTD}`)
	s := startFirehoseSluiceWith(t, m, catalog, ds)
	c := firehoseClient(s.Endpoint)
	put(t, c, "hive-events", `{"id":1,"at":"1783951509000"}`, `{"ID":2,"AT":"13/07/2026 14:05:09"}`, `{"id":3,"at":"2026-07-13 14:05:09.5"}`, `{"id":4,"at":"yesterday"}`)
	files := waitParquetRows(t, m, bucket, "hv/", 3, 90*time.Second)
	at := map[float64]string{}
	for _, f := range files {
		if f.PyArrow.Codec != "ZSTD" {
			t.Errorf("%s: codec %s", f.Key, f.PyArrow.Codec)
		}
		for i, r := range f.PyArrow.Rows {
			at[r["id"].(float64)] = r["at"].(string)
			if jsonText(r) != jsonText(f.DuckDB.Rows[i]) {
				t.Errorf("readers disagree: %s vs %s", jsonText(r), jsonText(f.DuckDB.Rows[i]))
			}
		}
	}
	want := map[float64]string{1: time.UnixMilli(1783951509000).UTC().Format("2006-01-02T15:04:05"), 2: "2026-07-13T14:05:09", 3: "2026-07-13T14:05:09.500000"}
	if jsonText(at) != jsonText(want) {
		t.Errorf("timestamps %v, want %v", at, want)
	}
	harness.Eventually(t, 60*time.Second, func() error {
		objs := readObjects(t, m, bucket, "hv-err/", "UNCOMPRESSED")
		for _, d := range objs {
			if strings.Contains(string(d), `"lastErrorCode":"DataFormatConversion.MalformedData"`) {
				return nil
			}
		}
		return fmt.Errorf("no failure record yet (%d objects)", len(objs))
	})
}
