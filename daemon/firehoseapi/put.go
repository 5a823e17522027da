package firehoseapi

import (
	"context"
	"strconv"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/daemon/firehose"
)

// Record limits (reference §2–§3).
const (
	maxRecordBytes = 1_024_000
	maxBatchBytes  = 4 << 20
	maxBatchCount  = 500
)

type recordIn struct {
	Data *[]byte `json:"Data"`
}

type putRecordIn struct {
	DeliveryStreamName *string   `json:"DeliveryStreamName"`
	Record             *recordIn `json:"Record"`
}

type putBatchIn struct {
	DeliveryStreamName *string     `json:"DeliveryStreamName"`
	Records            *[]recordIn `json:"Records"`
}

func checkData(v *awsproto.Validation, path string, r *recordIn) {
	if !v.Required(path, r != nil) {
		return
	}
	if v.Required(path+".data", r.Data != nil) && len(*r.Data) > maxRecordBytes {
		v.Add(awsproto.BlobValue(len(*r.Data)), path+".data", awsproto.RuleMaxLen(maxRecordBytes))
	}
}

func opPutRecord(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in putRecordIn
	if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	checkData(&v, "record", in.Record)
	if e := v.Err(); e != nil {
		return nil, e
	}
	data := *in.Record.Data
	res, enc, err := h.mgr.Put(ctx, *in.DeliveryStreamName, [][]byte{data})
	if err != nil {
		return nil, mapErr(err)
	}
	if res[0].ErrorCode != "" {
		return nil, awsproto.NewError(res[0].ErrorCode, res[0].ErrorMessage)
	}
	h.observeRecords("PutRecord", 1, len(data))
	b := append([]byte(`{"RecordId":`), strconv.Quote(res[0].RecordID)...)
	b = append(b, `,"Encrypted":`...)
	b = strconv.AppendBool(b, enc)
	return rawJSON(append(b, '}')), nil
}

func opPutRecordBatch(h *handler, ctx context.Context, call *awsproto.Call) (any, *awsproto.Error) {
	var in putBatchIn
	if name, hasName, data, hasRecs, ok := fastBatch(call.Body); ok {
		if hasName {
			in.DeliveryStreamName = &name
		}
		if hasRecs {
			recs := make([]recordIn, len(data))
			for i := range data {
				recs[i].Data = &data[i]
			}
			in.Records = &recs
		}
	} else if e := decode(call, &in); e != nil {
		return nil, e
	}
	var v awsproto.Validation
	checkName(&v, "deliveryStreamName", in.DeliveryStreamName)
	if v.Required("records", in.Records != nil) {
		recs := *in.Records
		if len(recs) < 1 {
			v.Add("'[]'", "records", awsproto.RuleMinLen(1))
		} else if len(recs) > maxBatchCount {
			v.Add("'[...]'", "records", awsproto.RuleMaxLen(maxBatchCount))
		}
		for i := range recs {
			checkData(&v, "records."+strconv.Itoa(i+1)+".member", &recs[i])
		}
	}
	if e := v.Err(); e != nil {
		return nil, e
	}
	recs := *in.Records
	data := make([][]byte, len(recs))
	total := 0
	for i, r := range recs {
		data[i] = *r.Data
		total += len(*r.Data)
	}
	if total > maxBatchBytes {
		// existence, source type and state come first (reference §1 check order)
		if _, _, err := h.mgr.Put(ctx, *in.DeliveryStreamName, nil); err != nil {
			return nil, mapErr(err)
		}
		return nil, iae("Records size exceeds 4 MB limit")
	}
	res, enc, err := h.mgr.Put(ctx, *in.DeliveryStreamName, data)
	if err != nil {
		return nil, mapErr(err)
	}
	h.observeRecords("PutRecordBatch", len(data), total)
	return rawJSON(batchReply(res, enc)), nil
}

// batchReply encodes PutRecordBatch's answer by hand (it is the hot path).
func batchReply(res []firehose.PutResult, enc bool) []byte {
	failed := 0
	for _, r := range res {
		if r.ErrorCode != "" {
			failed++
		}
	}
	b := make([]byte, 0, 64+len(res)*72)
	b = append(b, `{"FailedPutCount":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `,"Encrypted":`...)
	b = strconv.AppendBool(b, enc)
	b = append(b, `,"RequestResponses":[`...)
	for i, r := range res {
		if i > 0 {
			b = append(b, ',')
		}
		if r.ErrorCode != "" {
			b = append(b, `{"ErrorCode":`...)
			b = awsproto.AppendJSONString(b, r.ErrorCode)
			b = append(b, `,"ErrorMessage":`...)
			b = awsproto.AppendJSONString(b, r.ErrorMessage)
			b = append(b, '}')
			continue
		}
		b = append(b, `{"RecordId":"`...)
		b = append(b, r.RecordID...)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}
