package processors

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/google/uuid"
	"github.com/sluice-io/sluice/sources/retry"
)

// Lambda processing (firehose.md §5.6): Sluice has no Lambda service, so a LambdaArn is mapped
// (Options.LambdaFunctions) to an HTTP URL. Each invocation POSTs the Firehose Lambda event
// {invocationId, deliveryStreamArn, region, [sourceKinesisStreamArn], records:[{recordId,
// approximateArrivalTimestamp, data, [kinesisRecordMetadata]}]} as JSON and expects
// {records:[{recordId, result: Ok|Dropped|ProcessingFailed, data, metadata:{partitionKeys}}]}.

// Lambda error codes in processing-failed records.
const (
	CodeLambdaFunctionError              = "Lambda.FunctionError"
	CodeLambdaProcessingFailed           = "Lambda.ProcessingFailedStatus"
	CodeLambdaMissingRecordID            = "Lambda.MissingRecordId"
	CodeLambdaDuplicatedRecord           = "Lambda.DuplicatedRecordId"
	CodeLambdaInvalidOutput              = "Lambda.InvalidOutput"
	defaultLambdaRetries                 = 3
	maxLambdaRetries                     = 5
	defaultLambdaBufferBytes             = 1 << 20
	lambdaInvocationTimeout              = 5 * time.Minute
	lambdaMaxResponseBytes               = 6 << 20
	lambdaMaxResponseReadBytes           = lambdaMaxResponseBytes + 1
	lambdaFunctionErrorMessage           = "The Lambda function was successfully invoked but it returned an error result."
	lambdaProcessingFailedMsg            = "ProcessingFailed status set for record"
	lambdaMinBufferMB, lambdaMaxBufferMB = 0.2, 3.0
)

type lambdaStage struct {
	arn, url    string
	retries     int
	bufferBytes int
	client      *http.Client
	streamARN   string
	region      string
	sourceARN   string
	backoff     retry.Backoff
}

func newLambdaStage(p ProcessorConfig, opts Options) (*lambdaStage, error) {
	arn := p.Parameters[ParamLambdaArn]
	if arn == "" {
		return nil, record.InvalidArgument("Processor Lambda: parameter LambdaArn is required")
	}
	url, ok := opts.LambdaFunctions[arn]
	if !ok {
		return nil, record.InvalidArgument("Processor Lambda: LambdaArn %q is not mapped to a function (add it to firehose.lambda_functions)", arn)
	}
	st := &lambdaStage{arn: arn, url: url, retries: defaultLambdaRetries, bufferBytes: defaultLambdaBufferBytes,
		client: opts.HTTPClient, streamARN: opts.DeliveryStreamARN, region: opts.Region, sourceARN: opts.SourceStreamARN,
		backoff: retry.Backoff{Base: 500 * time.Millisecond, Max: 10 * time.Second}}
	if st.client == nil {
		st.client = http.DefaultClient
	}
	if v, ok := p.Parameters[ParamNumberOfRetries]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxLambdaRetries {
			return nil, record.InvalidArgument("Processor Lambda: parameter NumberOfRetries must be an integer from 0 to %d, got %q", maxLambdaRetries, v)
		}
		st.retries = n
	}
	if v, ok := p.Parameters["BufferSizeInMBs"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < lambdaMinBufferMB || f > lambdaMaxBufferMB {
			return nil, record.InvalidArgument("Processor Lambda: parameter BufferSizeInMBs must be from %g to %g, got %q", lambdaMinBufferMB, lambdaMaxBufferMB, v)
		}
		st.bufferBytes = int(f * (1 << 20))
	}
	return st, nil
}

func (*lambdaStage) name() string { return TypeLambda }

// apply is unused: the Lambda stage works on whole batches (applyBatch).
func (s *lambdaStage) apply(ctx context.Context, r record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	return s.applyBatch(ctx, []record.Record{r}, out, fail)
}

// applyBatch invokes the function once per chunk of at most bufferBytes of data.
func (s *lambdaStage) applyBatch(ctx context.Context, in []record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	for start := 0; start < len(in); {
		end, size := start, 0
		for end < len(in) && (end == start || size+len(in[end].Data) <= s.bufferBytes) {
			size += len(in[end].Data)
			end++
		}
		out, fail = s.invoke(ctx, in[start:end], out, fail)
		start = end
	}
	return out, fail
}

type lambdaEventRecord struct {
	RecordID                    string          `json:"recordId"`
	ApproximateArrivalTimestamp int64           `json:"approximateArrivalTimestamp"`
	Data                        []byte          `json:"data"`
	KinesisRecordMetadata       *kinesisRecMeta `json:"kinesisRecordMetadata,omitempty"`
}

type kinesisRecMeta struct {
	SequenceNumber              string `json:"sequenceNumber"`
	SubsequenceNumber           int    `json:"subsequenceNumber"`
	ApproximateArrivalTimestamp int64  `json:"approximateArrivalTimestamp"`
}

type lambdaEvent struct {
	InvocationID           string              `json:"invocationId"`
	DeliveryStreamArn      string              `json:"deliveryStreamArn,omitempty"`
	SourceKinesisStreamArn string              `json:"sourceKinesisStreamArn,omitempty"`
	Region                 string              `json:"region,omitempty"`
	Records                []lambdaEventRecord `json:"records"`
}

type lambdaReply struct {
	Records []struct {
		RecordID string  `json:"recordId"`
		Result   string  `json:"result"`
		Data     *string `json:"data"`
		Metadata *struct {
			PartitionKeys map[string]string `json:"partitionKeys"`
		} `json:"metadata"`
	} `json:"records"`
}

func (s *lambdaStage) failAll(recs []record.Record, fail []Failure, code, msg string) []Failure {
	for _, r := range recs {
		fail = append(fail, Failure{ErrorOutputType: record.ProcessingFailed, ErrorCode: code, ErrorMessage: msg, LambdaArn: s.arn, Record: r})
	}
	return fail
}

func (s *lambdaStage) invoke(ctx context.Context, recs []record.Record, out []record.Record, fail []Failure) ([]record.Record, []Failure) {
	ev := lambdaEvent{InvocationID: uuid.NewString(), DeliveryStreamArn: s.streamARN, SourceKinesisStreamArn: s.sourceARN, Region: s.region}
	for i, r := range recs {
		er := lambdaEventRecord{RecordID: strconv.Itoa(i), ApproximateArrivalTimestamp: r.ArrivalMs, Data: r.Data}
		if s.sourceARN != "" {
			er.KinesisRecordMetadata = &kinesisRecMeta{SequenceNumber: r.SequenceNumber, SubsequenceNumber: r.SubSequence, ApproximateArrivalTimestamp: r.ArrivalMs}
		}
		ev.Records = append(ev.Records, er)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return out, s.failAll(recs, fail, CodeLambdaFunctionError, err.Error())
	}
	var reply lambdaReply
	res := retry.Retrier{Backoff: s.backoff, MaxAttempts: s.retries + 1}.Do(ctx, retry.Forever, func(ctx context.Context) (err error) {
		reply, err = s.call(ctx, body)
		return err
	})
	if res.Outcome != retry.Succeeded {
		return out, s.failAll(recs, fail, CodeLambdaFunctionError, lambdaFunctionErrorMessage+" "+res.Err.Error())
	}
	// every record id exactly once
	byID := make(map[string]int, len(reply.Records))
	for i, rr := range reply.Records {
		if _, dup := byID[rr.RecordID]; dup {
			return out, s.failAll(recs, fail, CodeLambdaDuplicatedRecord, fmt.Sprintf("record ID %q was returned more than once", rr.RecordID))
		}
		byID[rr.RecordID] = i
	}
	for i := range recs {
		if _, ok := byID[strconv.Itoa(i)]; !ok {
			return out, s.failAll(recs, fail, CodeLambdaMissingRecordID, fmt.Sprintf("record ID %d is missing from the function's response", i))
		}
	}
	if len(reply.Records) != len(recs) {
		return out, s.failAll(recs, fail, CodeLambdaInvalidOutput, "the function returned records that were not sent to it")
	}
	for i, r := range recs {
		rr := reply.Records[byID[strconv.Itoa(i)]]
		switch rr.Result {
		case "Ok":
			if rr.Data == nil {
				fail = append(fail, Failure{ErrorOutputType: record.ProcessingFailed, ErrorCode: CodeLambdaInvalidOutput, ErrorMessage: "record has result Ok but no data", LambdaArn: s.arn, Record: r})
				continue
			}
			d, err := base64.StdEncoding.DecodeString(*rr.Data)
			if err != nil {
				fail = append(fail, Failure{ErrorOutputType: record.ProcessingFailed, ErrorCode: CodeLambdaInvalidOutput, ErrorMessage: "record data is not base64: " + err.Error(), LambdaArn: s.arn, Record: r})
				continue
			}
			nr := r
			nr.Data = d
			if rr.Metadata != nil && len(rr.Metadata.PartitionKeys) > 0 {
				nr.PartitionKeys = maps.Clone(r.PartitionKeys)
				if nr.PartitionKeys == nil {
					nr.PartitionKeys = map[string]string{}
				}
				maps.Copy(nr.PartitionKeys, rr.Metadata.PartitionKeys)
			}
			out = append(out, nr)
		case "Dropped":
		case "ProcessingFailed":
			fail = append(fail, Failure{ErrorOutputType: record.ProcessingFailed, ErrorCode: CodeLambdaProcessingFailed, ErrorMessage: lambdaProcessingFailedMsg, LambdaArn: s.arn, Record: r})
		default:
			fail = append(fail, Failure{ErrorOutputType: record.ProcessingFailed, ErrorCode: CodeLambdaInvalidOutput, ErrorMessage: fmt.Sprintf("record has unknown result %q", rr.Result), LambdaArn: s.arn, Record: r})
		}
	}
	return out, fail
}

// permanent marks an invocation error that retrying cannot help (retry.Permanenter).
type permanent struct{ error }

func (permanent) Permanent() bool { return true }
func (p permanent) Unwrap() error { return p.error }

// call makes one invocation.
func (s *lambdaStage) call(ctx context.Context, body []byte) (lambdaReply, error) {
	var reply lambdaReply
	ctx, cancel := context.WithTimeout(ctx, lambdaInvocationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return reply, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return reply, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, lambdaMaxResponseReadBytes))
	if err != nil {
		return reply, err
	}
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("function returned HTTP %d", resp.StatusCode)
		if c := resp.StatusCode; c/100 == 4 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests {
			return reply, permanent{err} // the function refused the event: another attempt gets the same answer
		}
		return reply, err
	}
	if len(b) > lambdaMaxResponseBytes {
		return reply, fmt.Errorf("function response exceeds %d bytes", lambdaMaxResponseBytes)
	}
	if err := json.Unmarshal(b, &reply); err != nil {
		return reply, fmt.Errorf("function response is not valid JSON: %v", err)
	}
	return reply, nil
}
