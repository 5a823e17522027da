package kinesisapi

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// maxDataBytes is the model's cap on a record's Data; the stream's own
// MaxRecordSizeInKiB is the engine's check.
const maxDataBytes = 10 << 20

const recordsEntryShown = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"

var reSeqNum = regexp.MustCompile(`^(0|([1-9]\d{0,128}))$`)

const patSeqNum = `0|([1-9]\d{0,128})`

// putRecordsFromFields is the generic (CBOR, or unusual JSON) decoding of PutRecords.
func putRecordsFromFields(f *awsproto.Fields) (putRecordsIn, *awsproto.Error) {
	var in putRecordsIn
	recs, has := f.StructList("Records")
	in.hasRecords = has
	for _, r := range recs {
		var e putEntryIn
		e.data, e.hasData = r.Blob("Data")
		e.pk, e.hasPK = r.Str("PartitionKey")
		e.ehk, e.hasEHK = r.Str("ExplicitHashKey")
		f.Adopt(r)
		in.records = append(in.records, e)
	}
	in.stream = readStreamArgs(f)
	return in, f.Err()
}

// validateEntry checks one record's members in model order. A missing partition key is a
// violation only when needPK is set: a stream with the AUTO record distribution strategy
// takes records without one, so the engine, which knows the stream, decides (see
// validatePut).
// A PutRecords entry lists ExplicitHashKey before PartitionKey; PutRecord (prefix "")
// after it.
func validateEntry(v *awsproto.Validation, prefix string, e *putEntryIn, needPK bool) {
	if v.Required(prefix+"data", e.hasData) && len(e.data) > maxDataBytes {
		v.Add(awsproto.BlobValue(len(e.data)), prefix+"data", awsproto.RuleMaxLen(maxDataBytes))
	}
	ehk := func() {
		if e.hasEHK {
			v.Pattern(prefix+"explicitHashKey", e.ehk, reHashKey, patHashKey)
		}
	}
	if prefix != "" {
		ehk()
	}
	if e.hasPK {
		v.Length(prefix+"partitionKey", e.pk, 1, 256)
	} else if needPK {
		v.Required(prefix+"partitionKey", false)
	}
	if prefix == "" {
		ehk()
	}
}

// validatePut runs check (a request's validation, given whether a missing partition key
// counts) and returns its error. When the request is otherwise valid, a missing partition
// key is left to the engine (PutEntry.NoPartitionKey); when it is not, the violations are
// listed with the missing keys among them, in member order, as before the AUTO strategy.
func validatePut(check func(v *awsproto.Validation, needPK bool)) *awsproto.Error {
	var v awsproto.Validation
	check(&v, false)
	if v.Err() == nil {
		return nil
	}
	var all awsproto.Validation
	check(&all, true)
	return all.Err()
}

// plainValidEntry is a shortcut for the common entry that validateEntry would pass
// without a word (it builds field paths for its messages): data present and within the
// limit, no explicit hash key, a partition key of 1..256 bytes (so 1..256 characters).
func plainValidEntry(e *putEntryIn) bool {
	return e.hasData && len(e.data) <= maxDataBytes && !e.hasEHK && e.hasPK && len(e.pk) >= 1 && len(e.pk) <= 256
}

func opPutRecords(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	var in putRecordsIn
	fast, ok := rc.call.Parsed.(*putRecordsIn)
	if ok {
		in = *fast
	}
	if !ok {
		var e *awsproto.Error
		if in, e = putRecordsFromFields(rc.f); e != nil {
			return nil, e
		}
	}
	if e := validatePut(func(v *awsproto.Validation, needPK bool) { validatePutRecords(v, &in, needPK) }); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, in.stream, "PutRecords")
	if e != nil {
		return nil, e
	}
	total := 0
	entries := make([]streamcore.PutEntry, len(in.records))
	for i, r := range in.records {
		entries[i] = streamcore.PutEntry{PartitionKey: r.pk, NoPartitionKey: !r.hasPK, ExplicitHashKey: r.ehk, Data: r.data}
		total += len(r.data) + len(r.pk)
	}
	if total > 10<<20 {
		return nil, awsproto.NewError(awsproto.TypeInvalidArgument, "Records size exceeds 10 MB limit")
	}
	res, err := h.eng.PutRecords(rc.ctx, k, entries)
	if err != nil {
		return nil, engErr(err)
	}

	h.metrics.incoming(k, entries, res)
	if rc.codec == awsproto.CBOR {
		return rawBody(appendPutRecordsCBOR(nil, res)), nil
	}
	return rawBody(appendPutRecordsJSON(make([]byte, 0, 64+len(res)*120), res)), nil
}

// resultError returns the AWS error code and message of a failed entry.
func resultError(err error) (string, string) {
	code := streamcore.CodeOf(err)
	if code == streamcore.CodeThroughputExceeded {
		var msg string
		if e, ok := err.(*streamcore.Error); ok {
			msg = e.Msg
		}
		return string(code), msg
	}
	if streamcore.StorageFull(err) {
		return "InternalFailure", streamcore.MsgStorageFull
	}
	return "InternalFailure", "Internal service failure."
}

func appendPutRecordsJSON(b []byte, res []streamcore.PutResult) []byte {
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
		}
	}
	b = append(b, `{"FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `,"Records":[`...)
	for i, r := range res {
		if i > 0 {
			b = append(b, ',')
		}
		if r.Err != nil {
			code, msg := resultError(r.Err)
			b = append(b, `{"ErrorCode":`...)
			b = awsproto.AppendJSONString(b, code)
			b = append(b, `,"ErrorMessage":`...)
			b = awsproto.AppendJSONString(b, msg)
			b = append(b, '}')
			continue
		}
		b = append(b, `{"SequenceNumber":"`...)
		b = append(b, r.SequenceNumber...)
		b = append(b, `","ShardId":"`...)
		b = append(b, r.ShardID...)
		b = append(b, `"}`...)
	}
	b = append(b, ']')
	if anyEncrypted(res) {
		b = append(b, `,"EncryptionType":"KMS"`...)
	}
	return append(b, '}')
}

func anyEncrypted(res []streamcore.PutResult) bool {
	for _, r := range res {
		if r.Err == nil && r.Encrypted {
			return true
		}
	}
	return false
}

func appendPutRecordsCBOR(b []byte, res []streamcore.PutResult) []byte {
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
		}
	}
	enc := anyEncrypted(res)
	if enc {
		b = append(b, 0xa3)
	} else {
		b = append(b, 0xa2)
	}
	b = awsproto.AppendCBORText(b, "FailedRecordCount")
	b = awsproto.AppendCBORInt(b, int64(failed))
	b = awsproto.AppendCBORText(b, "Records")
	b = awsproto.AppendCBORHead(b, 4, uint64(len(res)))
	for _, r := range res {
		b = append(b, 0xa2)
		if r.Err != nil {
			code, msg := resultError(r.Err)
			b = awsproto.AppendCBORText(b, "ErrorCode")
			b = awsproto.AppendCBORText(b, code)
			b = awsproto.AppendCBORText(b, "ErrorMessage")
			b = awsproto.AppendCBORText(b, msg)
			continue
		}
		b = awsproto.AppendCBORText(b, "SequenceNumber")
		b = awsproto.AppendCBORText(b, r.SequenceNumber)
		b = awsproto.AppendCBORText(b, "ShardId")
		b = awsproto.AppendCBORText(b, r.ShardID)
	}
	if enc {
		b = awsproto.AppendCBORText(b, "EncryptionType")
		b = awsproto.AppendCBORText(b, "KMS")
	}
	return b
}

func opPutRecord(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	var in putRecordIn
	fast, ok := rc.call.Parsed.(*putRecordIn)
	if ok {
		in = *fast
	}
	if !ok {
		f := rc.f
		in.stream = readStreamArgs(f)
		in.rec.data, in.rec.hasData = f.Blob("Data")
		in.rec.pk, in.rec.hasPK = f.Str("PartitionKey")
		in.rec.ehk, in.rec.hasEHK = f.Str("ExplicitHashKey")
		in.seqOrder, in.hasSeqOrder = f.Str("SequenceNumberForOrdering")
		if e := f.Err(); e != nil {
			return nil, e
		}
	}
	if e := validatePut(func(v *awsproto.Validation, needPK bool) {
		in.stream.validateName(v, true)
		validateEntry(v, "", &in.rec, needPK)
		if in.hasSeqOrder {
			v.Pattern("sequenceNumberForOrdering", in.seqOrder, reSeqNum, patSeqNum)
		}
		in.stream.validateARN(v)
	}); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, in.stream, "PutRecord")
	if e != nil {
		return nil, e
	}
	entry := streamcore.PutEntry{PartitionKey: in.rec.pk, NoPartitionKey: !in.rec.hasPK, ExplicitHashKey: in.rec.ehk, Data: in.rec.data, SequenceNumberForOrdering: in.seqOrder}
	res, err := h.eng.PutRecord(rc.ctx, k, entry)
	h.metrics.incoming(k, []streamcore.PutEntry{entry}, []streamcore.PutResult{{ShardID: res.ShardID, SequenceNumber: res.SequenceNumber, Err: err}})
	if err != nil {
		return nil, engErr(err)
	}
	out := struct {
		ShardId        string `json:"ShardId"`
		SequenceNumber string `json:"SequenceNumber"`
		EncryptionType string `json:"EncryptionType,omitempty"`
	}{ShardId: res.ShardID, SequenceNumber: res.SequenceNumber}
	if res.Encrypted {
		out.EncryptionType = "KMS"
	}
	return out, nil
}

func opGetShardIterator(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	f := rc.f
	a := readStreamArgs(f)
	shard, hasShard := f.Str("ShardId")
	typ, hasType := f.Str("ShardIteratorType")
	seq, hasSeq := f.Str("StartingSequenceNumber")
	ts, hasTS := f.Time("Timestamp", rc.codec)
	if e := f.Err(); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	a.validateName(&v, true)
	validateShardID(&v, "shardId", shard, hasShard)
	if v.Required("shardIteratorType", hasType) {
		v.Enum("shardIteratorType", typ, "AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON")
	}
	if hasSeq {
		v.Pattern("startingSequenceNumber", seq, reSeqNum, patSeqNum)
	}
	a.validateARN(&v)
	if e := v.Err(); e != nil {
		return nil, e
	}
	k, e := h.resolve(rc, a, "GetShardIterator")
	if e != nil {
		return nil, e
	}
	pos := streamcore.Position{Type: streamcore.IteratorType(typ), SequenceNumber: seq}
	if hasTS {
		pos.Timestamp = ts
	}
	if e := positionErr(pos.Type, hasSeq, hasTS); e != nil {
		return nil, e
	}
	it, err := h.eng.GetShardIterator(rc.ctx, k, shard, pos)
	if err != nil {
		return nil, engErr(err)
	}
	return struct {
		ShardIterator string `json:"ShardIterator"`
	}{it}, nil
}

// positionErr applies the start-position combination rules of reference §5.2.
func positionErr(t streamcore.IteratorType, hasSeq, hasTS bool) *awsproto.Error {
	const base = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified "
	switch t {
	case streamcore.TrimHorizon, streamcore.Latest:
		if hasSeq {
			return awsproto.NewError(awsproto.TypeInvalidArgument, base+string(t)+" and also a StartingSequenceNumber.")
		}
	case streamcore.AtSequenceNumber, streamcore.AfterSequenceNumber:
		if !hasSeq {
			return awsproto.NewError(awsproto.TypeInvalidArgument, base+string(t)+" and no StartingSequenceNumber.")
		}
	case streamcore.AtTimestamp:
		if !hasTS {
			return awsproto.NewError(awsproto.TypeInvalidArgument, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
		}
	}
	return nil
}

func opGetRecords(h *handler, rc *reqCtx) (any, *awsproto.Error) {
	var in getRecordsIn
	fast, ok := rc.call.Parsed.(*getRecordsIn)
	if ok {
		in = *fast
	}
	if !ok {
		f := rc.f
		in.iterator, in.hasIterator = f.Str("ShardIterator")
		in.limit, in.hasLimit = f.Int("Limit")
		in.streamARN, in.hasARN = f.Str("StreamARN")
		in.streamID, in.hasStreamID = rc.streamID, rc.hasStreamID
		if e := f.Err(); e != nil {
			return nil, e
		}
	}
	var v awsproto.Validation
	if v.Required("shardIterator", in.hasIterator) {
		v.Length("shardIterator", in.iterator, 1, 512)
	}
	if in.hasLimit {
		v.Range("limit", in.limit, 1, 10000)
	}
	if in.hasARN {
		v.Length("streamARN", in.streamARN, 1, 2048)
		validateARNStream(&v, in.streamARN) // "" breaks the pattern too, as AWS lists
	}
	validateStreamID(&v, in.streamID, in.hasStreamID)
	if e := v.Err(); e != nil {
		return nil, e
	}
	// An iterator pasted with its JSON quotes (a common shell slip): AWS strips them.
	if n := len(in.iterator); n >= 2 && in.iterator[0] == '"' && in.iterator[n-1] == '"' {
		in.iterator = in.iterator[1 : n-1]
	}
	// With credentials configured, the read is authorized against the stream the
	// iterator belongs to (an iterator handed over from another principal grants
	// nothing), and against a given StreamARN too. An iterator that does not decode is
	// refused by GetRecords below with its own error.
	resource := ""
	if in.hasARN {
		resource = in.streamARN
	}
	if e := rc.authorize("GetRecords", resource); e != nil {
		return nil, e
	}
	if rc.id.Cred != nil {
		if k, err := h.eng.IteratorStream(in.iterator); err == nil && k.ARN() != resource {
			if e := rc.authorize("GetRecords", k.ARN()); e != nil {
				return nil, e
			}
		}
	}
	limit := 10000
	if in.hasLimit {
		limit = int(in.limit)
	}
	// The reply's memory is taken before the read: the records read and their encoding
	// cost about 2.5 bytes per byte of data. With little room left the reply carries less
	// data (as Kinesis may); with none, ServiceUnavailable.
	cost := func(data int64) int64 { return data * 5 / 2 }
	maxBytes := streamcore.MaxGetRecordsBytes
	if rc.call != nil {
		got := rc.call.ReserveUpTo(cost(streamcore.MaxGetRecordsBytes), cost(1<<20))
		if got == 0 {
			return nil, awsproto.SlowDown()
		}
		maxBytes = int(got * 2 / 5) // the data that cost pays for
	}
	res, err := h.eng.GetRecordsUpTo(rc.ctx, in.iterator, limit, maxBytes)
	if err != nil {
		return nil, engErr(err)
	}
	h.metrics.outgoing(res.Records, res.MillisBehindLatest, h.now())
	if rc.codec == awsproto.CBOR {
		return rawBody(appendGetRecordsCBOR(nil, res)), nil
	}
	size := 128
	for _, r := range res.Records {
		size += len(r.Data)*4/3 + len(r.PartitionKey) + 160
	}
	return rawBody(appendGetRecordsJSON(make([]byte, 0, size), res)), nil
}

func appendRecordJSON(b []byte, r *streamcore.Record) []byte {
	b = append(b, `{"SequenceNumber":"`...)
	b = append(b, r.SequenceNumber...)
	b = append(b, `","ApproximateArrivalTimestamp":`...)
	b = awsproto.AppendJSONTimestamp(b, r.ArrivalMs)
	b = append(b, `,"Data":`...)
	b = awsproto.AppendJSONBase64(b, r.Data)
	b = append(b, `,"PartitionKey":`...)
	b = awsproto.AppendJSONString(b, r.PartitionKey)
	if r.Encrypted {
		b = append(b, `,"EncryptionType":"KMS"`...)
	}
	return append(b, '}')
}

func appendRecordsJSON(b []byte, recs []streamcore.Record) []byte {
	b = append(b, `"Records":[`...)
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecordJSON(b, &recs[i])
	}
	return append(b, ']')
}

func appendChildShardsJSON(b []byte, cs []streamcore.ChildShard) []byte {
	b = append(b, `"ChildShards":[`...)
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ShardId":`...)
		b = awsproto.AppendJSONString(b, c.ShardID)
		b = append(b, `,"ParentShards":[`...)
		for j, p := range c.ParentShards {
			if j > 0 {
				b = append(b, ',')
			}
			b = awsproto.AppendJSONString(b, p)
		}
		b = append(b, `],"HashKeyRange":{"StartingHashKey":"`...)
		b = append(b, c.HashKeyRange.Start.String()...)
		b = append(b, `","EndingHashKey":"`...)
		b = append(b, c.HashKeyRange.End.String()...)
		b = append(b, `"}}`...)
	}
	return append(b, ']')
}

func appendGetRecordsJSON(b []byte, res streamcore.GetResult) []byte {
	b = append(b, '{')
	b = appendRecordsJSON(b, res.Records)
	if res.NextShardIterator != "" {
		b = append(b, `,"NextShardIterator":`...)
		b = awsproto.AppendJSONString(b, res.NextShardIterator)
	}
	b = append(b, `,"MillisBehindLatest":`...)
	b = strconv.AppendInt(b, res.MillisBehindLatest, 10)
	if len(res.ChildShards) > 0 {
		b = append(b, ',')
		b = appendChildShardsJSON(b, res.ChildShards)
	}
	return append(b, '}')
}

// appendRecordsCBOR appends the "Records" key and the array of records, as GetRecords
// answers and SubscribeToShard events carry them.
func appendRecordsCBOR(b []byte, recs []streamcore.Record) []byte {
	b = awsproto.AppendCBORText(b, "Records")
	b = awsproto.AppendCBORHead(b, 4, uint64(len(recs)))
	for i := range recs {
		b = appendRecordCBOR(b, &recs[i])
	}
	return b
}

func appendRecordCBOR(b []byte, r *streamcore.Record) []byte {
	n := 4
	if r.Encrypted {
		n = 5
	}
	b = append(b, 0xa0|byte(n))
	b = awsproto.AppendCBORText(b, "SequenceNumber")
	b = awsproto.AppendCBORText(b, r.SequenceNumber)
	b = awsproto.AppendCBORText(b, "ApproximateArrivalTimestamp")
	b = awsproto.AppendCBORTimestamp(b, r.ArrivalMs)
	b = awsproto.AppendCBORText(b, "Data")
	b = awsproto.AppendCBORBytes(b, r.Data)
	b = awsproto.AppendCBORText(b, "PartitionKey")
	b = awsproto.AppendCBORText(b, r.PartitionKey)
	if r.Encrypted {
		b = awsproto.AppendCBORText(b, "EncryptionType")
		b = awsproto.AppendCBORText(b, "KMS")
	}
	return b
}

func appendChildShardsCBOR(b []byte, cs []streamcore.ChildShard) []byte {
	b = awsproto.AppendCBORText(b, "ChildShards")
	b = awsproto.AppendCBORHead(b, 4, uint64(len(cs)))
	for _, c := range cs {
		b = append(b, 0xa3)
		b = awsproto.AppendCBORText(b, "ShardId")
		b = awsproto.AppendCBORText(b, c.ShardID)
		b = awsproto.AppendCBORText(b, "ParentShards")
		b = awsproto.AppendCBORHead(b, 4, uint64(len(c.ParentShards)))
		for _, p := range c.ParentShards {
			b = awsproto.AppendCBORText(b, p)
		}
		b = awsproto.AppendCBORText(b, "HashKeyRange")
		b = append(b, 0xa2)
		b = awsproto.AppendCBORText(b, "StartingHashKey")
		b = awsproto.AppendCBORText(b, c.HashKeyRange.Start.String())
		b = awsproto.AppendCBORText(b, "EndingHashKey")
		b = awsproto.AppendCBORText(b, c.HashKeyRange.End.String())
	}
	return b
}

func appendGetRecordsCBOR(b []byte, res streamcore.GetResult) []byte {
	n := 2
	if res.NextShardIterator != "" {
		n++
	}
	if len(res.ChildShards) > 0 {
		n++
	}
	b = append(b, 0xa0|byte(n))
	b = appendRecordsCBOR(b, res.Records)
	if res.NextShardIterator != "" {
		b = awsproto.AppendCBORText(b, "NextShardIterator")
		b = awsproto.AppendCBORText(b, res.NextShardIterator)
	}
	b = awsproto.AppendCBORText(b, "MillisBehindLatest")
	b = awsproto.AppendCBORInt(b, res.MillisBehindLatest)
	if len(res.ChildShards) > 0 {
		b = appendChildShardsCBOR(b, res.ChildShards)
	}
	return b
}

// validatePutRecords checks PutRecords' members in model order (see validateEntry for
// needPK).
func validatePutRecords(v *awsproto.Validation, in *putRecordsIn, needPK bool) {
	if v.Required("records", in.hasRecords) {
		if n := len(in.records); n < 1 || n > 500 {
			shown := make([]string, n)
			for i := range shown {
				shown[i] = recordsEntryShown
			}
			rule := awsproto.RuleMinLen(1)
			if n > 500 {
				rule = awsproto.RuleMaxLen(500)
			}
			v.Add(awsproto.Quote("["+strings.Join(shown, ", ")+"]"), "records", rule)
		}
		for i := range in.records {
			if e := &in.records[i]; !plainValidEntry(e) {
				validateEntry(v, "records."+strconv.Itoa(i+1)+".member.", e, needPK)
			}
		}
	}
	in.stream.validateName(v, true)
	in.stream.validateARN(v)
}
