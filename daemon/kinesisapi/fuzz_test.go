package kinesisapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

var putRecordsSeeds = []string{
	`{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"},{"Data":"","PartitionKey":"p","ExplicitHashKey":"0"}]}`,
	`{"Records":[{"Data":"YQ==","PartitionKey":"\u00e9\n"}],"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","StreamId":"x"}`,
	`{"Records":null,"StreamName":null}`,
	`{"Records":[null,{}],"Other":{"a":[1,2.5e3,true,false,null,"x"]}}`,
	`  {"Records" : [ { "Data" : "AAAA" , "PartitionKey" : "k" } ] }  `,
	`{"Records":[{"Data":"AA==","PartitionKey":"k","Data":"AQ=="}]}`,
	`{"Records":[{"Data":123}]}`,
	`{"Records":"x"}`,
	`{"StreamName":"caf\xc3"}`,
	`[]`, `null`, `{`, `{"Records":[{"Data":"A\u0041=="}]}`,
}

// genericPutRecords is the reference decoding: encoding/json + the typed field reader.
func genericPutRecords(body []byte) (putRecordsIn, bool) {
	f, e := awsproto.ParseBody(awsproto.JSON, body)
	if e != nil {
		return putRecordsIn{}, false
	}
	in, e := putRecordsFromFields(f)
	return in, e == nil
}

func sameEntries(a, b []putEntryIn) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.hasData != y.hasData || !bytes.Equal(x.data, y.data) || x.hasPK != y.hasPK || x.pk != y.pk || x.hasEHK != y.hasEHK || x.ehk != y.ehk {
			return false
		}
	}
	return true
}

func FuzzPutRecordsDecoder(f *testing.F) {
	for _, s := range putRecordsSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodePutRecordsJSON(body)
		if !ok {
			return // the generic path decides; it must not panic either
		}
		if !json.Valid(body) {
			t.Fatalf("fast decoder accepted invalid JSON %q", body)
		}
		slow, ok2 := genericPutRecords(body)
		if !ok2 {
			t.Fatalf("fast decoder accepted %q, generic refused", body)
		}
		if fast.stream != slow.stream || fast.hasRecords != slow.hasRecords || !sameEntries(fast.records, slow.records) {
			t.Fatalf("disagree on %q:\nfast %+v\nslow %+v", body, fast, slow)
		}
	})
}

func FuzzPutRecordDecoder(f *testing.F) {
	f.Add([]byte(`{"StreamName":"s","Data":"aGk=","PartitionKey":"k","ExplicitHashKey":"1","SequenceNumberForOrdering":"0"}`))
	f.Add([]byte(`{"Data":null,"PartitionKey":"\ud83d\ude00","x":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodePutRecordJSON(body)
		if !ok {
			return
		}
		fl, e := awsproto.ParseBody(awsproto.JSON, body)
		if e != nil {
			t.Fatalf("fast accepted %q, generic refused", body)
		}
		var slow putRecordIn
		slow.stream = readStreamArgs(fl)
		slow.rec.data, slow.rec.hasData = fl.Blob("Data")
		slow.rec.pk, slow.rec.hasPK = fl.Str("PartitionKey")
		slow.rec.ehk, slow.rec.hasEHK = fl.Str("ExplicitHashKey")
		slow.seqOrder, slow.hasSeqOrder = fl.Str("SequenceNumberForOrdering")
		if fl.Err() != nil {
			t.Fatalf("fast accepted %q, generic: %v", body, fl.Err())
		}
		if fast.stream != slow.stream || !sameEntries([]putEntryIn{fast.rec}, []putEntryIn{slow.rec}) || fast.seqOrder != slow.seqOrder || fast.hasSeqOrder != slow.hasSeqOrder {
			t.Fatalf("disagree on %q:\nfast %+v\nslow %+v", body, fast, slow)
		}
	})
}

func FuzzGetRecordsDecoder(f *testing.F) {
	f.Add([]byte(`{"ShardIterator":"AAAA","Limit":100}`))
	f.Add([]byte(`{"ShardIterator":"x","Limit":-5,"StreamARN":"arn"}`))
	f.Add([]byte(`{"Limit":1e3}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeGetRecordsJSON(body)
		if !ok {
			return
		}
		fl, e := awsproto.ParseBody(awsproto.JSON, body)
		if e != nil {
			t.Fatalf("fast accepted %q, generic refused", body)
		}
		var slow getRecordsIn
		slow.iterator, slow.hasIterator = fl.Str("ShardIterator")
		slow.limit, slow.hasLimit = fl.Int("Limit")
		slow.streamARN, slow.hasARN = fl.Str("StreamARN")
		if fl.Err() != nil || fast != slow {
			t.Fatalf("disagree on %q:\nfast %+v\nslow %+v (%v)", body, fast, slow, fl.Err())
		}
	})
}

// FuzzCBORRequest feeds arbitrary CBOR through the generic decoder and field readers.
func FuzzCBORRequest(f *testing.F) {
	f.Add([]byte{0xa1, 0x67, 'R', 'e', 'c', 'o', 'r', 'd', 's', 0x81, 0xa1, 0x64, 'D', 'a', 't', 'a', 0x43, 1, 2, 3})
	f.Add([]byte{0xbf, 0xff})
	f.Add([]byte{0xa1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xc1, 0x1b, 0, 0, 1, 0x9b, 0x76, 0xdb, 0x96, 0xc3})
	f.Fuzz(func(t *testing.T, body []byte) {
		fl, e := awsproto.ParseBody(awsproto.CBOR, body)
		if e != nil {
			return
		}
		putRecordsFromFields(fl)
		fl.Time("Timestamp", awsproto.CBOR)
		fl.Int("Limit")
		fl.Bool("EnforceConsumerDeletion")
		fl.StrMap("Tags")
		if sp, ok := fl.Struct("StartingPosition"); ok {
			sp.Time("Timestamp", awsproto.CBOR)
		}
	})
}

func TestFastDecoderAgreesOnSeeds(t *testing.T) {
	for i, s := range putRecordsSeeds {
		fast, ok := decodePutRecordsJSON([]byte(s))
		slow, ok2 := genericPutRecords([]byte(s))
		if ok && (!ok2 || !sameEntries(fast.records, slow.records) || fast.stream != slow.stream) {
			t.Errorf("seed %d %q: fast %+v slow %+v", i, s, fast, slow)
		}
		if i == 0 && (!ok || len(fast.records) != 2 || string(fast.records[0].data) != "hello") {
			t.Errorf("seed 0 not decoded by the fast path: %v %+v", ok, fast)
		}
	}
	// A 500-record body decodes on the fast path.
	var b bytes.Buffer
	b.WriteString(`{"StreamName":"s","Records":[`)
	for i := 0; i < 500; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"Data":"%s","PartitionKey":"k%d"}`, "QUJD", i)
	}
	b.WriteString(`]}`)
	in, ok := decodePutRecordsJSON(b.Bytes())
	if !ok || len(in.records) != 500 || string(in.records[499].data) != "ABC" || in.records[499].pk != "k499" {
		t.Fatalf("500-record body: ok=%v n=%d", ok, len(in.records))
	}
}
