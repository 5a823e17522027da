package hec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const channelID = "0f0e0d0c-0b0a-4908-8706-050403020100"

// call makes one request and returns the status and the decoded reply.
func call(t *testing.T, method, url, token, channel, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Splunk "+token)
	}
	if channel != "" {
		req.Header.Set("X-Splunk-Request-Channel", channel)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func code(m map[string]any) int {
	c, ok := m["code"].(float64)
	if !ok {
		return -1
	}
	return int(c)
}

// Authentication and channels answer the documented codes and statuses.
func TestAuthAndChannels(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddToken("ack-tok", true)
	s.AddToken("plain-tok", false)
	ev := s.URL + "/services/collector/event"
	body := `{"event":"x"}`
	cases := []struct {
		name, url, auth, channel string
		status, code             int
	}{
		{"no token", ev, "", "", 401, CodeTokenRequired},
		{"unknown token", ev, "nope", channelID, 403, CodeInvalidToken},
		{"query-string token", ev + "?token=ack-tok", "ack-tok", channelID, 400, CodeQueryStringAuth},
		{"ack token without channel", ev, "ack-tok", "", 400, CodeChannelMissing},
		{"bad channel", ev, "ack-tok", "not-a-guid", 400, CodeInvalidChannel},
		{"ack token with channel", ev, "ack-tok", channelID, 200, CodeSuccess},
		{"plain token without channel", ev, "plain-tok", "", 200, CodeSuccess},
	}
	for _, c := range cases {
		st, rep := call(t, http.MethodPost, c.url, c.auth, c.channel, body)
		if st != c.status || code(rep) != c.code {
			t.Errorf("%s: %d %v, want %d code %d", c.name, st, rep, c.status, c.code)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, ev, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer ack-tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("Bearer scheme: %d, want 401 (Invalid authorization)", resp.StatusCode)
	}
	s.DisableToken("ack-tok")
	if st, rep := call(t, http.MethodPost, ev, "ack-tok", channelID, body); st != 403 || code(rep) != CodeTokenDisabled {
		t.Errorf("disabled: %d %v", st, rep)
	}
	s.EnableToken("ack-tok")
	if st, _ := call(t, http.MethodPost, ev, "ack-tok", channelID, body); st != 200 {
		t.Errorf("enabled again: %d", st)
	}
	s.RevokeToken("ack-tok")
	if st, rep := call(t, http.MethodPost, ev, "ack-tok", channelID, body); st != 403 || code(rep) != CodeInvalidToken {
		t.Errorf("revoked: %d %v", st, rep)
	}
	if n := s.Stats().Events; n != 3 {
		t.Errorf("%d events indexed, want 3", n)
	}
}

// The event endpoint parses concatenated event objects and refuses a post whole, naming
// the bad event.
func TestEventParsing(t *testing.T) {
	s := NewServer(Options{Indexes: []string{"main", "web"}})
	defer s.Close()
	s.AddToken("tok", false)
	ev := s.URL + "/services/collector/event"
	good := `{"time":1700000000.5,"host":"h","source":"s","sourcetype":"st","index":"web","fields":{"a":"1","b":[1,"x"]},"event":{"k":"v"}}` +
		"\n  " + `{"event":"second","time":"1700000001"}`
	if st, rep := call(t, http.MethodPost, ev, "tok", "", good); st != 200 || code(rep) != 0 || rep["ackId"] != nil {
		t.Fatalf("good post: %d %v", st, rep)
	}
	evs := s.Events()
	if len(evs) != 2 || evs[0].Host != "h" || evs[0].Index != "web" || evs[0].Time != "1700000000.5" || string(evs[0].Event) != `{"k":"v"}` ||
		string(evs[0].Fields["b"]) != `[1,"x"]` || evs[1].Time != "1700000001" || string(evs[1].Event) != `"second"` || evs[0].Post != 1 {
		t.Fatalf("events %+v", evs)
	}
	for _, c := range []struct {
		body      string
		code, bad int
	}{
		{"", CodeNoData, -1},
		{"  \n", CodeNoData, -1},
		{`{"event":"a"}{"event":`, CodeInvalidFormat, 1},
		{`{"event":"a"} not json`, CodeInvalidFormat, 1},
		{`{"host":"h"}`, CodeEventRequired, 0},
		{`{"event":null}`, CodeEventRequired, 0},
		{`{"event":"a"}{"event":"  "}`, CodeEventBlank, 1},
		{`{"event":"a","fields":{"x":{"nested":1}}}`, CodeIndexedFields, 0},
		{`{"event":"a","fields":{"x":[[1]]}}`, CodeIndexedFields, 0},
		{`{"event":"a","index":"other"}`, CodeIncorrectIndex, 0},
		{`{"event":"a","time":"yesterday"}`, CodeInvalidFormat, 0},
	} {
		st, rep := call(t, http.MethodPost, ev, "tok", "", c.body)
		bad := -1
		if n, ok := rep["invalid-event-number"].(float64); ok {
			bad = int(n)
		}
		if st != 400 || code(rep) != c.code || bad != c.bad || rep["text"] != replies[c.code].text {
			t.Errorf("%q: %d %v, want 400 code %d event %d", c.body, st, rep, c.code, c.bad)
		}
	}
	if n := len(s.Events()); n != 2 {
		t.Errorf("%d events after the refused posts, want 2 (refused posts index nothing)", n)
	}
}

// The raw endpoint splits the body at line breaks and takes metadata from the query.
func TestRaw(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddToken("tok", true)
	st, rep := call(t, http.MethodPost, s.URL+"/services/collector/raw?host=h1&sourcetype=access&index=main", "tok", channelID, "line one\r\nline two\n\nline three")
	if st != 200 || rep["ackId"] != float64(0) {
		t.Fatalf("%d %v", st, rep)
	}
	evs := s.Events()
	if len(evs) != 3 || string(evs[1].Raw) != "line two" || evs[2].Host != "h1" || evs[0].Index != "main" || evs[0].Sourcetype != "access" || evs[0].Endpoint != "raw" {
		t.Fatalf("events %+v", evs)
	}
	if st, rep := call(t, http.MethodPost, s.URL+"/services/collector/raw", "tok", channelID, "\n\n"); st != 400 || code(rep) != CodeNoData {
		t.Errorf("empty raw: %d %v", st, rep)
	}
}

// Ack ids count per channel; a query answers true once the delay passed, once; lost acks
// never turn true; a token without acknowledgement cannot query.
func TestAcks(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddToken("tok", true)
	s.AddToken("plain", false)
	ev := s.URL + "/services/collector/event"
	other := "11111111-2222-4333-8444-555555555555"
	ids := func(ch string) []int {
		var out []int
		for range 2 {
			_, rep := call(t, http.MethodPost, ev, "tok", ch, `{"event":"e"}`)
			out = append(out, int(rep["ackId"].(float64)))
		}
		return out
	}
	if a, b := ids(channelID), ids(other); fmt.Sprint(a) != "[0 1]" || fmt.Sprint(b) != "[0 1]" {
		t.Fatalf("ack ids %v %v, want 0,1 on each channel", a, b)
	}
	ack := s.URL + "/services/collector/ack"
	st, rep := call(t, http.MethodPost, ack, "tok", channelID, `{"acks":[0,1,7]}`)
	if st != 200 || fmt.Sprint(rep["acks"]) != "map[0:true 1:true 7:false]" {
		t.Fatalf("ack query: %d %v", st, rep)
	}
	if _, rep := call(t, http.MethodPost, ack, "tok", channelID, `{"acks":[0]}`); fmt.Sprint(rep["acks"]) != "map[0:false]" {
		t.Errorf("second query of an acknowledged id: %v, want false (answered once)", rep)
	}
	s.SetAckDelay(150 * time.Millisecond)
	s.LoseAcks(1)
	_, r1 := call(t, http.MethodPost, ev, "tok", channelID, `{"event":"lost"}`)
	_, r2 := call(t, http.MethodPost, ev, "tok", channelID, `{"event":"late"}`)
	q := fmt.Sprintf(`{"acks":[%v,%v]}`, r1["ackId"], r2["ackId"])
	if _, rep := call(t, http.MethodPost, ack, "tok", channelID, q); fmt.Sprint(rep["acks"]) != "map[2:false 3:false]" {
		t.Errorf("before the delay: %v", rep)
	}
	time.Sleep(200 * time.Millisecond)
	if _, rep := call(t, http.MethodPost, ack, "tok", channelID, q); fmt.Sprint(rep["acks"]) != "map[2:false 3:true]" {
		t.Errorf("after the delay: %v, want the lost one false and the late one true", rep)
	}
	if c := s.Counts(); c[`"lost"`] != 1 {
		t.Errorf("the post whose ack was lost was not indexed: %v", c)
	}
	if st, rep := call(t, http.MethodPost, ack, "plain", "", `{"acks":[0]}`); st != 400 || code(rep) != CodeAckDisabled {
		t.Errorf("ack query with acknowledgement off: %d %v", st, rep)
	}
	if st, rep := call(t, http.MethodPost, ack, "tok", channelID, `{"acks":"x"}`); st != 400 || code(rep) != CodeInvalidFormat {
		t.Errorf("bad ack query: %d %v", st, rep)
	}
	if st := s.Stats(); st.LostAcks != 1 || st.AcksTrue != 3 {
		t.Errorf("stats %+v", st)
	}
}

// Busy: posts and ack queries answer 503 code 9 and health 503 code 18 for the period.
func TestBusyAndHealth(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	s.AddToken("tok", true)
	if st, rep := call(t, http.MethodGet, s.URL+"/services/collector/health", "", "", ""); st != 200 || code(rep) != CodeHealthy {
		t.Fatalf("health: %d %v", st, rep)
	}
	s.SetBusy(200 * time.Millisecond)
	if st, rep := call(t, http.MethodPost, s.URL+"/services/collector/event", "tok", channelID, `{"event":"x"}`); st != 503 || code(rep) != CodeBusy || rep["text"] != "Server is busy" {
		t.Errorf("busy post: %d %v", st, rep)
	}
	if st, rep := call(t, http.MethodPost, s.URL+"/services/collector/ack", "tok", channelID, `{"acks":[0]}`); st != 503 || code(rep) != CodeBusy {
		t.Errorf("busy ack: %d %v", st, rep)
	}
	if st, rep := call(t, http.MethodGet, s.URL+"/services/collector/health", "", "", ""); st != 503 || code(rep) != CodeUnhealthyQueues {
		t.Errorf("busy health: %d %v", st, rep)
	}
	time.Sleep(250 * time.Millisecond)
	if st, _ := call(t, http.MethodPost, s.URL+"/services/collector/event", "tok", channelID, `{"event":"x"}`); st != 200 {
		t.Errorf("after the busy period: %d", st)
	}
	s.FailNext(CodeInternalError)
	if st, rep := call(t, http.MethodPost, s.URL+"/services/collector/event", "tok", channelID, `{"event":"x"}`); st != 500 || code(rep) != CodeInternalError {
		t.Errorf("injected: %d %v", st, rep)
	}
}

// A body over MaxContentLength is refused with 413, unread beyond the limit.
func TestMaxContentLength(t *testing.T) {
	s := NewServer(Options{MaxContentLength: 100})
	defer s.Close()
	s.AddToken("tok", false)
	if st, _ := call(t, http.MethodPost, s.URL+"/services/collector/event", "tok", "", `{"event":"`+strings.Repeat("x", 200)+`"}`); st != 413 {
		t.Errorf("oversized post: %d, want 413", st)
	}
}

// FuzzParseEvents: the event parser never panics, refuses a post for the same reason and
// at the same event as encoding/json would (parseEventsStd), and accepts the same events.
// Bodies whose keys differ only by case are left out: encoding/json matches member names
// without regard to case, Splunk (and ParseEvents) does not.
func FuzzParseEvents(f *testing.F) {
	for _, s := range []string{`{"event":"a"}`, `{"event":{"k":1},"time":"1.5","fields":{"a":["x"]}}{"event":"b"}`, `{"event":""}`, `{`, `[]`,
		`{"event":1}{"event":`, ` `, `null`, `{"event":"a","host":null}`, `{"\u0065vent":"x"}`, `{"event":"a","time":-1.5e3}`,
		`{"event":"a","fields":{"x":[1,"y",true]}}`, `{"event":"\u00"}`, `{"event":"a"} 5`, `{"event":[1,{"a":[]}],"index":"main"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, code, bad := ParseEvents(b, []string{"main"})
		if code == CodeSuccess {
			for _, e := range evs {
				if len(e.Event) == 0 || string(e.Event) == "null" {
					t.Fatalf("accepted an event without event: %q", b)
				}
			}
		} else if evs != nil || bad < -1 {
			t.Fatalf("refused (%d) with events or event number %d", code, bad)
		}
		if _, ok := replies[code]; !ok {
			t.Fatalf("code %d has no documented reply", code)
		}
		if bytes.ContainsFunc(b, func(r rune) bool { return r >= 'A' && r <= 'Z' || r > 0x7f }) || bytes.Contains(b, []byte(`\u`)) {
			return // case-insensitive (or escaped, possibly folded) keys in encoding/json
		}
		wevs, wcode, wbad := parseEventsStd(b, []string{"main"})
		if code != wcode || bad != wbad || len(evs) != len(wevs) {
			t.Fatalf("%q: code %d event %d (%d events); encoding/json: code %d event %d (%d events)", b, code, bad, len(evs), wcode, wbad, len(wevs))
		}
		for i := range evs {
			g, w := evs[i], wevs[i]
			if !bytes.Equal(g.Event, w.Event) || g.Time != w.Time || g.Host != w.Host || g.Source != w.Source || g.Sourcetype != w.Sourcetype ||
				g.Index != w.Index || len(g.Fields) != len(w.Fields) {
				t.Fatalf("%q: event %d %+v; encoding/json: %+v", b, i, g, w)
			}
		}
	})
}

// parseEventsStd is the encoding/json parser ParseEvents is checked against: it parses an event post's body: concatenated JSON event objects. It returns the
// events and CodeSuccess, or the HEC code refusing the post and the 0-based number of the
// offending event (-1 when the post as a whole is at fault). indexes, when set, are the
// allowed index names.
func parseEventsStd(b []byte, indexes []string) (evs []Event, code int, bad int) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, CodeNoData, -1
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for n := 0; ; n++ {
		var we struct {
			Time       json.RawMessage            `json:"time"`
			Host       *string                    `json:"host"`
			Source     *string                    `json:"source"`
			Sourcetype *string                    `json:"sourcetype"`
			Index      *string                    `json:"index"`
			Fields     map[string]json.RawMessage `json:"fields"`
			Event      json.RawMessage            `json:"event"`
		}
		err := dec.Decode(&we)
		if errors.Is(err, io.EOF) {
			return evs, CodeSuccess, -1
		}
		if err != nil {
			return nil, CodeInvalidFormat, n
		}
		ev := Event{Endpoint: "event", Host: deref(we.Host), Source: deref(we.Source), Sourcetype: deref(we.Sourcetype), Index: deref(we.Index), Fields: we.Fields, AckID: -1}
		if len(we.Event) == 0 || string(we.Event) == "null" {
			return nil, CodeEventRequired, n
		}
		if we.Event[0] == '"' {
			var str string
			if json.Unmarshal(we.Event, &str) != nil || strings.TrimSpace(str) == "" {
				return nil, CodeEventBlank, n
			}
		}
		ev.Event = append(json.RawMessage(nil), we.Event...)
		if len(we.Time) > 0 && string(we.Time) != "null" {
			t := string(we.Time)
			if uq, err := strconv.Unquote(t); err == nil {
				t = uq
			}
			if _, err := strconv.ParseFloat(t, 64); err != nil {
				return nil, CodeInvalidFormat, n
			}
			ev.Time = t
		}
		for _, v := range we.Fields {
			if !indexedValue(v) {
				return nil, CodeIndexedFields, n
			}
		}
		if ev.Index != "" && len(indexes) > 0 && !contains(indexes, ev.Index) {
			return nil, CodeIncorrectIndex, n
		}
		evs = append(evs, ev)
	}
}
