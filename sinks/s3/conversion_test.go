package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/catalog"
	"github.com/sluice-io/sluice/sources/record"
)

func testCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, probs := catalog.Build(map[string]catalog.TableSpec{"analytics.events": {Columns: []catalog.ColumnSpec{
		{Name: "id", Type: "bigint"}, {Name: "tags", Type: "array<string>"}, {Name: "amount", Type: "decimal(10,2)"}}}})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}

// conversionAPI is an ExtendedS3DestinationConfiguration with conversion, as a client sends it.
func conversionAPI(t *testing.T, dfc string) *API {
	t.Helper()
	var a API
	raw := `{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::lake","Prefix":"p/","ErrorOutputPrefix":"err/",` +
		`"DataFormatConversionConfiguration":` + dfc + `}`
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

const okDFC = `{"SchemaConfiguration":{"DatabaseName":"analytics","TableName":"events"},
	"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},
	"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{}}}}`

func TestConversionAPIModelLimits(t *testing.T) {
	a := conversionAPI(t, `{"SchemaConfiguration":{"DatabaseName":"analytics","TableName":"events"},
		"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},
		"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{"BlockSizeBytes":1048576,"PageSizeBytes":1024,"Compression":"LZO","WriterVersion":"V3"}}}}`)
	var v awsproto.Validation
	a.CheckAPI(&v, "extendedS3DestinationConfiguration", MemberExtended, true)
	msg := v.Err().Error()
	for _, want := range []string{
		"'extendedS3DestinationConfiguration.dataFormatConversionConfiguration.outputFormatConfiguration.serializer.parquetSerDe.blockSizeBytes' failed to satisfy constraint: Member must have value greater than or equal to 67108864",
		"parquetSerDe.pageSizeBytes' failed to satisfy constraint: Member must have value greater than or equal to 65536",
		"parquetSerDe.compression' failed to satisfy constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, SNAPPY]",
		"parquetSerDe.writerVersion' failed to satisfy constraint: Member must satisfy enum value set: [V1, V2]",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in\n%s", want, msg)
		}
	}
	var ok awsproto.Validation
	zstd := conversionAPI(t, strings.Replace(okDFC, `"ParquetSerDe":{}`, `"ParquetSerDe":{"Compression":"ZSTD","BlockSizeBytes":67108864,"PageSizeBytes":65536}`, 1))
	zstd.CheckAPI(&ok, "x", MemberExtended, true)
	if ok.Count() != 0 {
		t.Errorf("ZSTD and the minimum sizes refused: %v", ok.Err())
	}
}

func TestConversionValidateMessages(t *testing.T) {
	cases := []struct{ name, dfc, compression, want string }{
		{"orc", `{"SchemaConfiguration":{"DatabaseName":"analytics","TableName":"events"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"OrcSerDe":{}}}}`, "",
			"OrcSerDe is not supported by Sluice: there is no maintained ORC writer for Go"},
		{"gzip", okDFC, "GZIP", "CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled (got GZIP)"},
		{"no serializer", `{"SchemaConfiguration":{"DatabaseName":"a","TableName":"b"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}}}`, "", "Serializer must set ParquetSerDe"},
		{"two deserializers", strings.Replace(okDFC, `"OpenXJsonSerDe":{}`, `"OpenXJsonSerDe":{},"HiveJsonSerDe":{}`, 1), "", "exactly one of OpenXJsonSerDe and HiveJsonSerDe"},
		{"no deserializer", strings.Replace(okDFC, `"OpenXJsonSerDe":{}`, ``, 1), "", "exactly one of OpenXJsonSerDe and HiveJsonSerDe"},
		{"no table", strings.Replace(okDFC, `"TableName":"events"`, `"TableName":""`, 1), "", "SchemaConfiguration must name DatabaseName and TableName"},
		{"small block", strings.Replace(okDFC, `"ParquetSerDe":{}`, `"ParquetSerDe":{"BlockSizeBytes":1000}`, 1), "", "ParquetSerDe.BlockSizeBytes 1000 is below the minimum of 67108864 (64 MiB)"},
		{"small page", strings.Replace(okDFC, `"ParquetSerDe":{}`, `"ParquetSerDe":{"PageSizeBytes":1000}`, 1), "", "ParquetSerDe.PageSizeBytes 1000 is below the minimum of 65536 (64 KiB)"},
		{"bad pattern", strings.Replace(okDFC, `"OpenXJsonSerDe":{}`, `"HiveJsonSerDe":{"TimestampFormats":["yyyy-QQ"]}`, 1), "", `HiveJsonSerDe.TimestampFormats[0] "yyyy-QQ": pattern letter 'Q' is not supported`},
	}
	for _, tc := range cases {
		a := conversionAPI(t, tc.dfc)
		a.CompressionFormat = tc.compression
		err := a.Validate(nil)
		if err == nil || !strings.Contains(record.Message(err), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := conversionAPI(t, okDFC).Validate(nil); err != nil {
		t.Errorf("valid configuration refused: %v", err)
	}
	off := conversionAPI(t, `{"Enabled":false,"OutputFormatConfiguration":{"Serializer":{"OrcSerDe":{}}}}`)
	off.CompressionFormat = "GZIP"
	if err := off.Validate(nil); err != nil {
		t.Errorf("disabled conversion validated: %v", err)
	}
}

func TestConversionUnknownTable(t *testing.T) {
	a := conversionAPI(t, strings.Replace(okDFC, `"TableName":"events"`, `"TableName":"clicks"`, 1))
	_, err := a.Build(sinks.Env{DeliveryStream: "s", Catalog: testCatalog(t)})
	if err == nil || !strings.Contains(err.Error(), "Table analytics.clicks was not found in Sluice's catalog (firehose.catalog; known tables: analytics.events)") {
		t.Errorf("unknown table: %v", err)
	}
	if err := a.CheckCatalog(testCatalog(t)); err == nil || !strings.Contains(err.Error(), "analytics.clicks") {
		t.Errorf("CheckCatalog: %v", err)
	}
	if err := conversionAPI(t, okDFC).CheckCatalog(testCatalog(t)); err != nil {
		t.Errorf("known table: %v", err)
	}
}

func TestConversionDescribeDefaults(t *testing.T) {
	d := conversionAPI(t, okDFC).Describe()["ExtendedS3DestinationDescription"].(map[string]any)
	b, _ := json.Marshal(d["DataFormatConversionConfiguration"])
	got := string(b)
	for _, want := range []string{`"Enabled":true`, `"BlockSizeBytes":268435456`, `"PageSizeBytes":1048576`, `"Compression":"SNAPPY"`,
		`"WriterVersion":"V1"`, `"CaseInsensitive":true`, `"ConvertDotsInJsonKeysToUnderscores":false`, `"VersionId":"LATEST"`, `"EnableDictionaryCompression":false`} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe lacks %s: %s", want, got)
		}
	}
}

func TestConversionFailureRecord(t *testing.T) {
	a := conversionAPI(t, okDFC)
	b, err := a.Build(sinks.Env{DeliveryStream: "s", ARN: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/s", Catalog: testCatalog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if b.Convert == nil {
		t.Fatal("no conversion stage")
	}
	now := time.UnixMilli(1700000000500)
	_, fr := b.Convert(record.Record{Data: []byte(`{"id":"x"}`), ArrivalMs: 1700000000000, SequenceNumber: "42", SubSequence: 3}, now)
	if fr == nil {
		t.Fatal("a bigint from \"x\" converted")
	}
	line, _ := json.Marshal(fr)
	want := `{"attemptsMade":1,"arrivalTimestamp":1700000000000,"lastErrorCode":"DataFormatConversion.MalformedData","lastErrorMessage":"column id (bigint): \"x\" is not an integer","attemptEndingTimestamp":1700000000500,"rawData":"eyJpZCI6IngifQ==","sequenceNumber":"42","subSequenceNumber":3,"dataCatalogTable":{"catalogId":"123456789012","databaseName":"analytics","tableName":"events","region":"eu-west-1","versionId":"LATEST","catalogArn":"arn:aws:glue:eu-west-1:123456789012:catalog"}}`
	if string(line) != want {
		t.Errorf("failure record\n got %s\nwant %s", line, want)
	}
	_, fr = b.Convert(record.Record{Data: []byte(`[{"id":1}]`)}, now)
	if fr == nil || fr.ErrorCode != "DataFormatConversion.ParseError" {
		t.Errorf("array record: %+v", fr)
	}
}

func TestSinkWritesParquet(t *testing.T) {
	fs := &fakeS3{objects: map[string][]byte{}, headers: map[string]http.Header{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	a := conversionAPI(t, strings.Replace(okDFC, `"ParquetSerDe":{}`, `"ParquetSerDe":{"Compression":"GZIP"}`, 1))
	conv, err := a.DataFormatConversionConfiguration.converter(testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, srv.URL, Config{Prefix: "p/", Conversion: conv})
	var recs []record.Record
	for _, js := range []string{`{"id":1,"tags":["a","b"],"amount":"12.34"}`, `{"id":2}` + "\n" + `{"ID":3,"amount":-0.5}`} {
		r, fr := conv.Convert(record.Record{Data: []byte(js), ArrivalMs: t0.UnixMilli()}, t0)
		if fr != nil {
			t.Fatal(fr.ErrorMessage)
		}
		recs = append(recs, r)
	}
	key, err := s.Put(context.Background(), sinks.Batch{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "p/2026/07/13/14/orders-1-2026-07-13-14-05-09-") || !strings.HasSuffix(key, ".parquet") {
		t.Errorf("key %q", key)
	}
	if h := fs.headers["/bkt/"+key]; h.Get("Content-Encoding") != "" {
		t.Errorf("Content-Encoding %q on a Parquet object", h.Get("Content-Encoding"))
	}
	body := fs.objects["/bkt/"+key]
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a Parquet file: %v", err)
	}
	if f.NumRows() != 3 {
		t.Errorf("rows %d, want 3", f.NumRows())
	}
	if cc := f.Metadata().RowGroups[0].Columns[0].MetaData.Codec.String(); cc != "GZIP" {
		t.Errorf("codec %s", cc)
	}
	// failure objects stay NDJSON, without the .parquet suffix
	ek, err := s.WriteErrors(context.Background(), record.FormatConversionFailed, []record.FailureRecord{{ArrivalTimestamp: t0.UnixMilli(), RawData: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(ek, ".parquet") || !strings.Contains(ek, "format-conversion-failed/") {
		t.Errorf("error key %q", ek)
	}
	if !bytes.HasPrefix(fs.objects["/bkt/"+ek], []byte(`{"attemptsMade":`)) {
		t.Errorf("error object %q", fs.objects["/bkt/"+ek])
	}
}

func TestConversionUpdateReplacesMembers(t *testing.T) {
	a := conversionAPI(t, strings.Replace(okDFC, `"OpenXJsonSerDe":{}`, `"OpenXJsonSerDe":{"ColumnToJsonKeyMappings":{"id":"ID_FIELD"}}`, 1))
	// a schema-only update keeps the SerDes
	c, err := a.Merge(MemberExtendedUpdate, json.RawMessage(`{"DataFormatConversionConfiguration":{"SchemaConfiguration":{"DatabaseName":"analytics","TableName":"v2"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.(*API).DataFormatConversionConfiguration
	if m.SchemaConfiguration.TableName != "v2" || m.deserializer().OpenXJsonSerDe == nil || m.parquet() == nil {
		t.Errorf("schema update: %+v", m)
	}
	if err := c.Validate(nil); err != nil {
		t.Errorf("schema update does not validate: %v", err)
	}
	// a deserializer update replaces the old one (no OpenX left beside Hive, no stale mappings)
	c, err = a.Merge(MemberExtendedUpdate, json.RawMessage(`{"DataFormatConversionConfiguration":{"InputFormatConfiguration":{"Deserializer":{"HiveJsonSerDe":{"TimestampFormats":["millis"]}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	m = c.(*API).DataFormatConversionConfiguration
	if ds := m.deserializer(); ds.OpenXJsonSerDe != nil || ds.HiveJsonSerDe == nil || m.SchemaConfiguration.TableName != "events" {
		t.Errorf("deserializer update: %+v", ds)
	}
	if err := c.Validate(nil); err != nil {
		t.Errorf("deserializer update does not validate: %v", err)
	}
	// the current configuration is untouched
	if a.DataFormatConversionConfiguration.deserializer().OpenXJsonSerDe == nil || a.DataFormatConversionConfiguration.SchemaConfiguration.TableName != "events" {
		t.Errorf("Merge changed the current configuration: %+v", a.DataFormatConversionConfiguration)
	}
}
