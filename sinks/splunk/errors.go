package splunk

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
)

// Firehose error codes of the destination (firehose.md §8): errorCode of failure records.
const (
	CodeDisabledToken     = "Splunk.DisabledToken"
	CodeInvalidToken      = "Splunk.InvalidToken"
	CodeInvalidDataFormat = "Splunk.InvalidDataFormat"
	CodeInvalidIndex      = "Splunk.InvalidIndex"
	CodeServerError       = "Splunk.ServerError"
	CodeProxySticky       = "Splunk.ProxyWithoutStickySessions"
	CodeDisabledAck       = "Splunk.DisabledAck"
	CodeAckTimeout        = "Splunk.AckTimeout"
	// transport failures
	CodeConnectionTimeout = "Splunk.ConnectionTimeout"
	CodeConnectionClosed  = "Splunk.ConnectionClosed"
	CodeInvalidEndpoint   = "Splunk.InvalidEndpoint"
	CodeSSLHandshake      = "Splunk.SSLHandshake"
	CodeSSLUnverified     = "Splunk.SSLUnverified"
)

// AckTimeoutMessage is the errorMessage of a record whose acknowledgement did not come in
// time (Firehose's words, §8).
const AckTimeoutMessage = "Did not receive an acknowledgement from HEC before the HEC acknowledgement timeout expired. " +
	"Despite the acknowledgement timeout, it's possible the data was indexed successfully in Splunk. " +
	"Kinesis Firehose backs up in Amazon S3 data for which the acknowledgement timeout expired."

// hecReply is an HEC answer: `{"text":…,"code":…}`, with `ackId` on an accepted post and
// `invalid-event-number` on a refused event.
type hecReply struct {
	Text               string `json:"text"`
	Code               *int   `json:"code"`
	AckID              *int64 `json:"ackId"`
	InvalidEventNumber *int   `json:"invalid-event-number"`
}

// parseReply decodes an HEC answer. A body that is not such an object gives the zero reply
// and an error (the status alone then classifies it).
func parseReply(raw []byte) (hecReply, error) {
	var rep hecReply
	if err := json.Unmarshal(raw, &rep); err != nil {
		return hecReply{}, err
	}
	if rep.AckID != nil && *rep.AckID < 0 {
		return hecReply{}, fmt.Errorf("negative ackId %d", *rep.AckID)
	}
	return rep, nil
}

// parseAcks decodes the answer of an ack query, `{"acks":{"<id>":true|false,…}}`, into the
// ids answered true. Ids that are not non-negative integers are an error.
func parseAcks(raw []byte) (map[int64]bool, error) {
	var out struct {
		Acks map[string]bool `json:"acks"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	if out.Acks == nil {
		return nil, errors.New(`the ack answer has no "acks" object`)
	}
	acked := make(map[int64]bool, len(out.Acks))
	for k, v := range out.Acks {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("ack id %q is not a non-negative integer", k)
		}
		if v {
			acked[id] = true
		}
	}
	return acked, nil
}

// hecError is a failure with a client-facing message: its text is the errorMessage of the
// failure records; the *sinks.Error it wraps carries the code and the outcome.
type hecError struct {
	msg string
	e   *sinks.Error
}

func (h *hecError) Error() string { return h.msg }

// Unwrap exposes the *sinks.Error that carries the code and outcome.
func (h *hecError) Unwrap() error { return h.e }

func hecErr(code string, o sinks.Outcome, alert bool, msg string) *hecError {
	return &hecError{msg: msg, e: &sinks.Error{Code: code, Outcome: o, Alert: alert, Err: errors.New(msg)}}
}

// ackTimeout is the failure of a post not acknowledged in time: sent again.
func ackTimeout() error { return hecErr(CodeAckTimeout, sinks.Errored, false, AckTimeoutMessage) }

// classify is the destination's one classifier of an HEC answer that is not a success
// (firehose.md §8's table): the HEC code decides, the HTTP status when there is none.
//
//   - Token disabled or invalid (1, 22; 2, 3, 4, 21, 16): Rejected, and an alert (the
//     delivery stream shows it until a write succeeds): retrying cannot help until an
//     operator fixes the token.
//   - Data refused (5, 6, 12, 13, 15: InvalidDataFormat; 7: InvalidIndex; other 4xx):
//     Rejected.
//   - ACK is disabled (14): Rejected (DisabledAck).
//   - Server errors and busy (8, 9, 18–20, other 5xx, 429): Errored; a Retry-After header
//     asks for that pause.
//   - Unknown channel (10, 11: a load balancer without sticky sessions): Errored.
func classify(resp *http.Response, rep hecReply, raw []byte) error {
	status := resp.StatusCode
	code := -1
	if rep.Code != nil {
		code = *rep.Code
	}
	what := fmt.Sprintf("HEC answered HTTP %d: %s", status, bytes.TrimSpace(raw))
	if len(bytes.TrimSpace(raw)) == 0 {
		what = fmt.Sprintf("HEC answered HTTP %d without a body", status)
	}
	var after time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
		after = time.Duration(min(secs, 3600)) * time.Second
	}
	retryable := func(c, msg string) error {
		h := hecErr(c, sinks.Errored, false, msg)
		h.e.After = after
		return h
	}
	switch code {
	case 1, 22:
		return hecErr(CodeDisabledToken, sinks.Rejected, true, "The HEC token is disabled ("+what+"). Enable it in Splunk: meanwhile records go to the S3 backup (splunk-failed) without retrying.")
	case 2, 3, 4, 16, 21:
		return hecErr(CodeInvalidToken, sinks.Rejected, true, "HEC refused the token ("+what+"). Check HECToken: meanwhile records go to the S3 backup (splunk-failed) without retrying.")
	case 5, 6, 12, 13, 15:
		return hecErr(CodeInvalidDataFormat, sinks.Rejected, false, "HEC refused the data as not formatted correctly ("+what+"). With HECEndpointType Event, each record must be an HEC event object.")
	case 7:
		return hecErr(CodeInvalidIndex, sinks.Rejected, false, "HEC refused the index ("+what+"): the token may not write to it, or it does not exist.")
	case 8, 9, 18, 19, 20:
		return retryable(CodeServerError, "HEC failed or is busy ("+what+").")
	case 10, 11:
		return retryable(CodeProxySticky, "HEC does not know the data channel ("+what+"): a load balancer in front of HEC needs sticky sessions.")
	case 14:
		return hecErr(CodeDisabledAck, sinks.Rejected, false, "Indexer acknowledgement is disabled for the HEC token ("+what+"). Turn it on in Splunk, or set splunk.require_ack: false.")
	}
	switch {
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		return retryable(CodeServerError, "HEC failed ("+what+").")
	case status >= 400:
		return hecErr(CodeInvalidDataFormat, sinks.Rejected, false, "HEC refused the post ("+what+").")
	}
	return retryable(CodeServerError, "HEC gave an answer that is not an HEC reply ("+what+").")
}

// transportCode is the Firehose code of a request that got no HTTP answer.
func transportCode(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		recHdr   tls.RecordHeaderError
		dns      *net.DNSError
		ne       net.Error
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &hostname):
		return CodeSSLUnverified
	case errors.As(err, &recHdr), strings.Contains(err.Error(), "tls: "):
		return CodeSSLHandshake
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return CodeConnectionTimeout
	case errors.As(err, &dns), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return CodeInvalidEndpoint
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CodeConnectionClosed
	}
	return CodeConnectionClosed
}

// scrubbed is err with the token replaced (a client error could quote a header or URL).
func scrubbed(err error, token s3.Secret) error {
	if token == "" || !strings.Contains(err.Error(), string(token)) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), string(token), "REDACTED"))
}
