package splunk

import (
	"net/http"
	"testing"

	"github.com/sluice-io/sluice/sinks"
)

// FuzzReply feeds arbitrary HEC answers to the reply and ack parsers and the classifier:
// they never panic, an accepted ack id is never negative, and every answer that is not a
// success classifies to a Splunk.* code with an outcome.
func FuzzReply(f *testing.F) {
	for _, s := range []string{
		`{"text":"Success","code":0,"ackId":7}`,
		`{"text":"Server is busy","code":9}`,
		`{"text":"Invalid data format","code":6,"invalid-event-number":3}`,
		`{"acks":{"0":true,"1":false,"17":true}}`,
		`{"acks":{"-1":true}}`,
		`{"acks":{"x":true}}`,
		`{"acks":[]}`,
		`{"ackId":-3}`,
		`<html>502 Bad Gateway</html>`,
		``,
		`{"code":"0"}`,
		`{"acks":{"99999999999999999999":true}}`,
	} {
		f.Add([]byte(s), 200)
		f.Add([]byte(s), 503)
	}
	f.Fuzz(func(t *testing.T, raw []byte, status int) {
		rep, err := parseReply(raw)
		if err == nil && rep.AckID != nil && *rep.AckID < 0 {
			t.Fatalf("negative ackId accepted from %q", raw)
		}
		if acked, err := parseAcks(raw); err == nil {
			for id := range acked {
				if id < 0 {
					t.Fatalf("negative ack id %d from %q", id, raw)
				}
			}
		}
		if status < 100 || status > 999 {
			status = 500
		}
		cerr := classify(&http.Response{StatusCode: status, Header: http.Header{}}, rep, raw)
		if sinks.ErrorCode(cerr, "") == "" || sinks.Classify(cerr) == sinks.Delivered {
			t.Fatalf("classify(%d, %q) = %v", status, raw, cerr)
		}
	})
}
