package convert

import (
	"bytes"
	"errors"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// FuzzConvert feeds records (network input) to a converter of a table with every kind of
// column: conversion must never panic, and what it accepts must write as Parquet.
func FuzzConvert(f *testing.F) {
	tb := table(f, "s", "string", "i", "int", "t", "tinyint", "d", "double", "f", "float", "b", "boolean", "ts", "timestamp",
		"dt", "date", "dec", "decimal(20,4)", "small", "decimal(5,2)", "vc", "varchar(4)", "bin", "binary",
		"arr", "array<array<int>>", "m", "map<string,struct<x:int,y:array<string>>>", "st", "struct<a:int,b:struct<c:string>>")
	c, err := New(tb, openx())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"s":"x","i":1,"t":-5,"d":1e5,"f":1.5,"b":true,"ts":"2026-01-01 00:00:00","dt":"2026-01-01","dec":"123.4567","small":1.5,"vc":"ab","bin":"aGk="}`,
		`{"arr":[[1,2],[],null],"m":{"k":{"x":1,"y":["a"]},"n":null},"st":{"a":1,"b":{"c":"z"}}}` + "\n" + `{}`,
		`{"s":"\ud83d\ude00\u0041","i":"12","ts":1518033528123}`, `[1]`, `{"a":`, `{"i":1e400}`, `{"dec":1e-400}`,
	} {
		f.Add([]byte(s))
	}
	hive, err := New(tb, Options{Deserializer: Hive, TimestampFormats: []string{"millis", "dd/MM/yyyy HH:mm:ss.SSS Z", "MMM d, yyyy h:mm a", "yyyyMMddHHmmss"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"ts":"07/02/2018 15:13:01.123 +0100"}`))
	f.Add([]byte(`{"ts":"Feb 7, 2018 3:13 PM"}`))
	f.Add([]byte(`{"ts":"20180207151301"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := hive.Convert(nil, data); err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("hive: error %v is not a conversion error", err)
			}
		}
		enc, err := c.Convert(nil, data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || (ce.Code != CodeParseError && ce.Code != CodeMalformedData) {
				t.Fatalf("error %v is not a conversion error", err)
			}
			return
		}
		var buf bytes.Buffer
		fw, err := c.NewFileWriter(&buf, WriterOptions{Compression: Uncompressed})
		if err != nil {
			t.Fatal(err)
		}
		if err := fw.Write(enc); err != nil {
			t.Fatalf("accepted record does not write: %v", err)
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		// and the file reads back, with as many rows as were written
		f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("written file does not open: %v", err)
		}
		rows := make([]parquet.Row, f.NumRows())
		n := 0
		for _, rg := range f.RowGroups() {
			rr := rg.Rows()
			for n < len(rows) {
				k, err := rr.ReadRows(rows[n:])
				n += k
				if err != nil {
					break
				}
			}
			rr.Close()
		}
		if int64(n) != fw.Rows() || n == 0 {
			t.Fatalf("read %d rows, wrote %d", n, fw.Rows())
		}
	})
}
