package s3

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/catalog"
	"github.com/sluice-io/sluice/sinks/s3/convert"
	"github.com/sluice-io/sluice/sources/record"
)

// DataFormatConversionConfiguration is Firehose's record format conversion (firehose.md
// §5.5): JSON records become rows of a catalog table, written as Apache Parquet. Sluice
// reads the table from its local catalog (firehose.catalog) instead of AWS Glue.
type DataFormatConversionConfiguration struct {
	Enabled                   *bool                      `json:"Enabled,omitempty"`
	SchemaConfiguration       *SchemaConfiguration       `json:"SchemaConfiguration,omitempty"`
	InputFormatConfiguration  *InputFormatConfiguration  `json:"InputFormatConfiguration,omitempty"`
	OutputFormatConfiguration *OutputFormatConfiguration `json:"OutputFormatConfiguration,omitempty"`
}

// SchemaConfiguration names the table. RoleARN, CatalogId, Region and VersionId are kept
// verbatim (the local catalog has one version of each table).
type SchemaConfiguration struct {
	RoleARN      string `json:"RoleARN,omitempty"`
	CatalogId    string `json:"CatalogId,omitempty"`
	DatabaseName string `json:"DatabaseName,omitempty"`
	TableName    string `json:"TableName,omitempty"`
	Region       string `json:"Region,omitempty"`
	VersionId    string `json:"VersionId,omitempty"`
}

// InputFormatConfiguration holds the deserializer.
type InputFormatConfiguration struct {
	Deserializer *Deserializer `json:"Deserializer,omitempty"`
}

// Deserializer is exactly one of the two JSON SerDes.
type Deserializer struct {
	OpenXJsonSerDe *OpenXJsonSerDe `json:"OpenXJsonSerDe,omitempty"`
	HiveJsonSerDe  *HiveJsonSerDe  `json:"HiveJsonSerDe,omitempty"`
}

// OpenXJsonSerDe settings (AWS defaults: dots kept, case-insensitive, no mappings).
type OpenXJsonSerDe struct {
	ConvertDotsInJsonKeysToUnderscores *bool             `json:"ConvertDotsInJsonKeysToUnderscores,omitempty"`
	CaseInsensitive                    *bool             `json:"CaseInsensitive,omitempty"`
	ColumnToJsonKeyMappings            map[string]string `json:"ColumnToJsonKeyMappings,omitempty"`
}

// HiveJsonSerDe settings.
type HiveJsonSerDe struct {
	TimestampFormats []string `json:"TimestampFormats,omitempty"`
}

// OutputFormatConfiguration holds the serializer.
type OutputFormatConfiguration struct {
	Serializer *Serializer `json:"Serializer,omitempty"`
}

// Serializer is exactly one of ParquetSerDe and OrcSerDe (ORC is refused: see Validate).
type Serializer struct {
	ParquetSerDe *ParquetSerDe  `json:"ParquetSerDe,omitempty"`
	OrcSerDe     map[string]any `json:"OrcSerDe,omitempty"`
}

// ParquetSerDe settings. MaxPaddingBytes is accepted and has no effect (it aligns row
// groups to HDFS blocks).
type ParquetSerDe struct {
	BlockSizeBytes              *int   `json:"BlockSizeBytes,omitempty"`
	PageSizeBytes               *int   `json:"PageSizeBytes,omitempty"`
	Compression                 string `json:"Compression,omitempty"`
	EnableDictionaryCompression *bool  `json:"EnableDictionaryCompression,omitempty"`
	MaxPaddingBytes             *int   `json:"MaxPaddingBytes,omitempty"`
	WriterVersion               string `json:"WriterVersion,omitempty"`
}

// ParquetSerDe limits and defaults (§5.5).
const (
	MinBlockSizeBytes     = 64 << 20
	DefaultBlockSizeBytes = 256 << 20
	MinPageSizeBytes      = 64 << 10
	DefaultPageSizeBytes  = 1 << 20
	DefaultVersionId      = "LATEST"
	// ConversionMinBufferMiB is the smallest buffer AWS accepts with conversion; Sluice
	// takes smaller ones (sluice validate warns).
	ConversionMinBufferMiB = 64
)

// ParquetCompressions are the accepted ParquetSerDe.Compression values (ZSTD is Sluice's).
var ParquetCompressions = []string{convert.Uncompressed, convert.GZIP, convert.Snappy, convert.ZSTD}

// On reports whether conversion is enabled (Enabled defaults to true).
func (d *DataFormatConversionConfiguration) On() bool {
	return d != nil && (d.Enabled == nil || *d.Enabled)
}

func (d *DataFormatConversionConfiguration) parquet() *ParquetSerDe {
	if d.OutputFormatConfiguration != nil && d.OutputFormatConfiguration.Serializer != nil && d.OutputFormatConfiguration.Serializer.ParquetSerDe != nil {
		return d.OutputFormatConfiguration.Serializer.ParquetSerDe
	}
	return &ParquetSerDe{}
}

func (d *DataFormatConversionConfiguration) deserializer() *Deserializer {
	if d.InputFormatConfiguration != nil && d.InputFormatConfiguration.Deserializer != nil {
		return d.InputFormatConfiguration.Deserializer
	}
	return &Deserializer{}
}

// checkAPI records the model constraints at path.
func (d *DataFormatConversionConfiguration) checkAPI(v sinks.APIChecks, path string) {
	if d == nil {
		return
	}
	if sc := d.SchemaConfiguration; sc != nil {
		p := path + ".schemaConfiguration"
		for _, f := range []struct{ name, val string }{{"catalogId", sc.CatalogId}, {"databaseName", sc.DatabaseName},
			{"tableName", sc.TableName}, {"region", sc.Region}, {"versionId", sc.VersionId}} {
			if f.val != "" {
				v.Length(p+"."+f.name, f.val, 1, 1024)
			}
		}
		if sc.RoleARN != "" {
			v.Length(p+".roleARN", sc.RoleARN, 1, 512)
			v.Pattern(p+".roleARN", sc.RoleARN, sinks.RoleARNRE, sinks.RoleARNPattern)
		}
	}
	pq := d.parquet()
	p := path + ".outputFormatConfiguration.serializer.parquetSerDe"
	if pq.BlockSizeBytes != nil {
		v.Range(p+".blockSizeBytes", int64(*pq.BlockSizeBytes), MinBlockSizeBytes, math.MaxInt32)
	}
	if pq.PageSizeBytes != nil {
		v.Range(p+".pageSizeBytes", int64(*pq.PageSizeBytes), MinPageSizeBytes, math.MaxInt32)
	}
	if pq.MaxPaddingBytes != nil {
		v.Range(p+".maxPaddingBytes", int64(*pq.MaxPaddingBytes), 0, math.MaxInt32)
	}
	if pq.Compression != "" && pq.Compression != convert.ZSTD {
		v.Enum(p+".compression", pq.Compression, convert.Uncompressed, convert.GZIP, convert.Snappy)
	}
	if pq.WriterVersion != "" {
		v.Enum(p+".writerVersion", pq.WriterVersion, "V1", "V2")
	}
}

// validate checks what the model cannot say (InvalidArgumentException messages); the
// table itself is checked against the catalog by checkTable.
func (d *DataFormatConversionConfiguration) validate(compression string) error {
	if !d.On() {
		return nil
	}
	if ser := d.OutputFormatConfiguration; ser == nil || ser.Serializer == nil || (ser.Serializer.ParquetSerDe == nil && ser.Serializer.OrcSerDe == nil) {
		return record.InvalidArgument("DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer must set ParquetSerDe (OrcSerDe is not supported by Sluice).")
	}
	if d.OutputFormatConfiguration.Serializer.OrcSerDe != nil {
		return record.InvalidArgument("DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.OrcSerDe is not supported by Sluice: there is no maintained ORC writer for Go; use ParquetSerDe.")
	}
	if d.OutputFormatConfiguration.Serializer.ParquetSerDe != nil && d.OutputFormatConfiguration.Serializer.OrcSerDe != nil {
		return record.InvalidArgument("DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer must set exactly one of ParquetSerDe and OrcSerDe.")
	}
	pq := d.parquet()
	if pq.BlockSizeBytes != nil && *pq.BlockSizeBytes < MinBlockSizeBytes {
		return record.InvalidArgument("ParquetSerDe.BlockSizeBytes %d is below the minimum of %d (64 MiB).", *pq.BlockSizeBytes, MinBlockSizeBytes)
	}
	if pq.PageSizeBytes != nil && *pq.PageSizeBytes < MinPageSizeBytes {
		return record.InvalidArgument("ParquetSerDe.PageSizeBytes %d is below the minimum of %d (64 KiB).", *pq.PageSizeBytes, MinPageSizeBytes)
	}
	if pq.Compression != "" && !contains(ParquetCompressions, pq.Compression) {
		return record.InvalidArgument("ParquetSerDe.Compression %q is not one of %s.", pq.Compression, strings.Join(ParquetCompressions, ", "))
	}
	if pq.WriterVersion != "" && pq.WriterVersion != "V1" && pq.WriterVersion != "V2" {
		return record.InvalidArgument("ParquetSerDe.WriterVersion %q is not one of V1, V2.", pq.WriterVersion)
	}
	ds := d.deserializer()
	if (ds.OpenXJsonSerDe == nil) == (ds.HiveJsonSerDe == nil) {
		return record.InvalidArgument("DataFormatConversionConfiguration.InputFormatConfiguration.Deserializer must set exactly one of OpenXJsonSerDe and HiveJsonSerDe.")
	}
	if h := ds.HiveJsonSerDe; h != nil {
		for i, f := range h.TimestampFormats {
			if err := convert.CheckTimestampFormat(f); err != nil {
				return record.InvalidArgument("HiveJsonSerDe.TimestampFormats[%d] %q: %v.", i, f, err)
			}
		}
	}
	sc := d.SchemaConfiguration
	if sc == nil || sc.DatabaseName == "" || sc.TableName == "" {
		return record.InvalidArgument("DataFormatConversionConfiguration.SchemaConfiguration must name DatabaseName and TableName.")
	}
	if compression != string(Uncompressed) {
		return record.InvalidArgument("CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled (got %s); set ParquetSerDe.Compression instead.", compression)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// table looks the configured table up in cat (InvalidArgumentException naming it).
func (d *DataFormatConversionConfiguration) table(cat *catalog.Catalog) (*catalog.Table, error) {
	sc := d.SchemaConfiguration
	t, ok := cat.Lookup(sc.DatabaseName, sc.TableName)
	if !ok {
		known := cat.Names()
		hint := "the catalog is empty"
		if len(known) > 0 {
			if len(known) > 10 {
				known = append(known[:10], "…")
			}
			hint = "known tables: " + strings.Join(known, ", ")
		}
		return nil, record.InvalidArgument("Table %s.%s was not found in Sluice's catalog (firehose.catalog; %s).", sc.DatabaseName, sc.TableName, hint)
	}
	return t, nil
}

// converter compiles the conversion of d against cat.
func (d *DataFormatConversionConfiguration) converter(cat *catalog.Catalog) (*Conversion, error) {
	t, err := d.table(cat)
	if err != nil {
		return nil, err
	}
	ds := d.deserializer()
	o := convert.Options{Deserializer: convert.OpenX, CaseInsensitive: true}
	if x := ds.OpenXJsonSerDe; x != nil {
		if x.CaseInsensitive != nil {
			o.CaseInsensitive = *x.CaseInsensitive
		}
		o.ConvertDots = x.ConvertDotsInJsonKeysToUnderscores != nil && *x.ConvertDotsInJsonKeysToUnderscores
		o.KeyMappings = x.ColumnToJsonKeyMappings
	} else {
		o = convert.Options{Deserializer: convert.Hive, TimestampFormats: ds.HiveJsonSerDe.TimestampFormats}
	}
	c, err := convert.New(t, o)
	if err != nil {
		return nil, record.InvalidArgument("%v", err)
	}
	pq := d.parquet()
	wo := convert.WriterOptions{Compression: pq.Compression, BlockSize: DefaultBlockSizeBytes, PageSize: DefaultPageSizeBytes,
		V2: pq.WriterVersion == "V2", Dictionary: pq.EnableDictionaryCompression != nil && *pq.EnableDictionaryCompression}
	if pq.BlockSizeBytes != nil {
		wo.BlockSize = int64(*pq.BlockSizeBytes)
	}
	if pq.PageSizeBytes != nil {
		wo.PageSize = int64(*pq.PageSizeBytes)
	}
	sc := d.SchemaConfiguration
	ver := sc.VersionId
	if ver == "" {
		ver = DefaultVersionId
	}
	return &Conversion{Converter: c, Writer: wo, Table: record.DataCatalogTable{CatalogID: sc.CatalogId, DatabaseName: sc.DatabaseName,
		TableName: sc.TableName, Region: sc.Region, VersionID: ver}}, nil
}

// merge applies an UpdateDestination's DataFormatConversionConfiguration: each member it
// sets (Enabled, SchemaConfiguration, InputFormatConfiguration, OutputFormatConfiguration)
// replaces the current one whole, so that a deserializer or serializer can be swapped and
// key mappings dropped; the members it leaves out stay. d is not modified.
func (d *DataFormatConversionConfiguration) merge(u *DataFormatConversionConfiguration) *DataFormatConversionConfiguration {
	if u == nil {
		if d == nil {
			return nil
		}
		return sinks.CloneJSON(d)
	}
	out := &DataFormatConversionConfiguration{}
	if d != nil {
		out = sinks.CloneJSON(d)
	}
	if u.Enabled != nil {
		out.Enabled = u.Enabled
	}
	if u.SchemaConfiguration != nil {
		out.SchemaConfiguration = u.SchemaConfiguration
	}
	if u.InputFormatConfiguration != nil {
		out.InputFormatConfiguration = u.InputFormatConfiguration
	}
	if u.OutputFormatConfiguration != nil {
		out.OutputFormatConfiguration = u.OutputFormatConfiguration
	}
	return out
}

// describe returns d with the effective defaults filled in.
func (d *DataFormatConversionConfiguration) describe() *DataFormatConversionConfiguration {
	if d == nil {
		return nil
	}
	on := d.On()
	d.Enabled = &on
	if !on {
		return d
	}
	if sc := d.SchemaConfiguration; sc != nil && sc.VersionId == "" {
		sc.VersionId = DefaultVersionId
	}
	if ds := d.deserializer(); ds.OpenXJsonSerDe != nil {
		x := ds.OpenXJsonSerDe
		if x.CaseInsensitive == nil {
			t := true
			x.CaseInsensitive = &t
		}
		if x.ConvertDotsInJsonKeysToUnderscores == nil {
			f := false
			x.ConvertDotsInJsonKeysToUnderscores = &f
		}
	}
	if s := d.OutputFormatConfiguration; s != nil && s.Serializer != nil && s.Serializer.ParquetSerDe != nil {
		pq := s.Serializer.ParquetSerDe
		def := func(p **int, v int) {
			if *p == nil {
				*p = &v
			}
		}
		def(&pq.BlockSizeBytes, DefaultBlockSizeBytes)
		def(&pq.PageSizeBytes, DefaultPageSizeBytes)
		def(&pq.MaxPaddingBytes, 0)
		if pq.Compression == "" {
			pq.Compression = convert.Snappy
		}
		if pq.WriterVersion == "" {
			pq.WriterVersion = "V1"
		}
		if pq.EnableDictionaryCompression == nil {
			f := false
			pq.EnableDictionaryCompression = &f
		}
	}
	return d
}

// Conversion is a compiled record format conversion: the converter, the Parquet writer's
// settings, and the table reference of failure records.
type Conversion struct {
	Converter *convert.Converter
	Writer    convert.WriterOptions
	Table     record.DataCatalogTable
}

// Convert converts r (firehose.md §5.5): r with Data replaced by its encoded rows, or the
// format-conversion-failed failure record (lastErrorCode/lastErrorMessage, sequence
// numbers, dataCatalogTable).
func (c *Conversion) Convert(r record.Record, now time.Time) (record.Record, *record.FailureRecord) {
	enc, err := c.Converter.Convert(make([]byte, 0, len(r.Data)), r.Data)
	if err == nil {
		r.Data = enc
		return r, nil
	}
	code := convert.CodeMalformedData
	if ce, ok := err.(*convert.Error); ok {
		code = ce.Code
	}
	fr := record.NewFailureRecord(r, 1, code, err.Error(), now.UnixMilli())
	fr.LastErrorNames = true
	fr.SequenceNumber = r.SequenceNumber
	sub := r.SubSequence
	fr.SubSequenceNumber = &sub
	t := c.Table
	fr.DataCatalogTable = &t
	return r, &fr
}

// String describes the conversion for logs.
func (c *Conversion) String() string {
	return fmt.Sprintf("%s.%s → parquet (%s)", c.Table.DatabaseName, c.Table.TableName, c.Writer.Compression)
}
