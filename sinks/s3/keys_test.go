package s3

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/sources/record"
)

var t0 = time.Date(2026, 7, 13, 14, 5, 9, 123456789, time.UTC)

func mustKeys(t *testing.T, cfg Config) *Keys {
	t.Helper()
	if cfg.Bucket == "" {
		cfg.Bucket = "b"
	}
	k, err := NewKeys(cfg)
	if err != nil {
		t.Fatalf("NewKeys(%+v): %v", cfg, err)
	}
	return k
}

const uuidRE = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`

func TestObjectKeyDefault(t *testing.T) {
	cases := []struct {
		prefix, ext string
		cf          CompressionFormat
		want        string
	}{
		{"logs/", "", GZIP, `^logs/2026/07/13/14/orders-3-2026-07-13-14-05-09-` + uuidRE + `\.gz$`},
		{"logs", "", GZIP, `^logs2026/07/13/14/orders-3-2026-07-13-14-05-09-` + uuidRE + `\.gz$`},
		{"", "", "", `^2026/07/13/14/orders-3-2026-07-13-14-05-09-` + uuidRE + `$`},
		{"", ".json", ZSTD, `^2026/07/13/14/orders-3-2026-07-13-14-05-09-` + uuidRE + `\.json$`},
		{"a/", "", HadoopSnappy, `\.snappy$`},
		{"a/", "", ZIP, `\.zip$`},
	}
	for _, c := range cases {
		k := mustKeys(t, Config{Prefix: c.prefix, CompressionFormat: c.cf, FileExtension: c.ext, DeliveryStreamName: "orders", VersionID: "3"})
		key, err := k.ObjectKey(k.Time(t0.UnixMilli()), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(c.want).MatchString(key) {
			t.Errorf("prefix %q: key %q does not match %s", c.prefix, key, c.want)
		}
	}
}

func TestObjectKeyTimeZone(t *testing.T) {
	k := mustKeys(t, Config{Prefix: "x/", CustomTimeZone: "Asia/Tokyo", DeliveryStreamName: "s"})
	key, _ := k.ObjectKey(k.Time(t0.UnixMilli()), nil)
	if !strings.HasPrefix(key, "x/2026/07/13/23/s-1-2026-07-13-23-05-09-") {
		t.Errorf("key %q not in Asia/Tokyo (UTC+9)", key)
	}
}

func TestExpressions(t *testing.T) {
	cfg := Config{
		Prefix:              "data/!{partitionKeyFromQuery:customer}/!{timestamp:yyyy}/!{timestamp:'week='ww}/",
		ErrorOutputPrefix:   "err/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/!{firehose:random-string}/",
		DynamicPartitioning: true,
		QueryKeys:           []string{"customer"},
		DeliveryStreamName:  "s",
	}
	k := mustKeys(t, cfg)
	p, err := k.ObjectPrefix(t0, map[string]string{"customer": "acme"})
	if err != nil || p != "data/acme/2026/week=29/" {
		t.Errorf("ObjectPrefix = %q, %v", p, err)
	}
	if _, err := k.ObjectPrefix(t0, map[string]string{"other": "x"}); err == nil {
		t.Error("missing partition key accepted")
	}
	if _, err := k.ObjectPrefix(t0, map[string]string{"customer": strings.Repeat("x", 600)}); err == nil {
		t.Error("evaluated prefix over 512 accepted")
	}
	ep, err := k.ErrorObjectPrefix(t0, record.PartitioningFailed)
	if err != nil || !regexp.MustCompile(`^err/partitioning-failed/2026/07/13/[0-9a-f]{11}/$`).MatchString(ep) {
		t.Errorf("ErrorObjectPrefix = %q, %v", ep, err)
	}
	ep2, _ := k.ErrorObjectPrefix(t0, record.PartitioningFailed)
	if ep2 == ep {
		t.Error("random-string not fresh per evaluation")
	}
}

func TestDefaultErrorPrefix(t *testing.T) {
	k := mustKeys(t, Config{Prefix: "logs/", DeliveryStreamName: "s"})
	p, err := k.ErrorObjectPrefix(t0, record.ProcessingFailed)
	if err != nil || p != "logs/processing-failed/2026/07/13/14/" {
		t.Errorf("got %q, %v", p, err)
	}
	// literal error prefix: yyyy/MM/dd/HH/ appended
	k = mustKeys(t, Config{Prefix: "logs/", ErrorOutputPrefix: "errs/", DeliveryStreamName: "s"})
	if p, _ := k.ErrorObjectPrefix(t0, record.ProcessingFailed); p != "errs/2026/07/13/14/" {
		t.Errorf("got %q", p)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{"ok", Config{Prefix: "a/"}, ""},
		{"stray", Config{Prefix: "a/!{timestamp:yyyy", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "unterminated"},
		{"unknown ns", Config{Prefix: "!{foo:bar}", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "unknown namespace"},
		{"unknown firehose", Config{Prefix: "!{firehose:nope}", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "unknown firehose expression"},
		{"error type in prefix", Config{Prefix: "!{firehose:error-output-type}", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "only allowed in ErrorOutputPrefix"},
		{"pk in error prefix", Config{Prefix: "a/", ErrorOutputPrefix: "!{partitionKeyFromQuery:x}!{firehose:error-output-type}"}, "only allowed in Prefix"},
		{"expr prefix no error prefix", Config{Prefix: "!{timestamp:yyyy}/"}, "ErrorOutputPrefix cannot be null or empty"},
		{"error prefix lacks type", Config{Prefix: "a/", ErrorOutputPrefix: "e/!{timestamp:yyyy}/"}, "must contain !{firehose:error-output-type}"},
		{"bad letter", Config{Prefix: "!{timestamp:yyyy-QQ}", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "unsupported pattern letter"},
		{"too many letters", Config{Prefix: "!{timestamp:ddd}", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "too many pattern letters"},
		{"open quote", Config{Prefix: "!{timestamp:'abc}", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "incomplete string literal"},
		{"pk without dp", Config{Prefix: "!{partitionKeyFromQuery:a}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}"}, "dynamic partitioning is not enabled"},
		{"pk mismatch", Config{Prefix: "!{partitionKeyFromQuery:a}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}", DynamicPartitioning: true, QueryKeys: []string{"a", "b"}}, "do not match"},
		{"pk match", Config{Prefix: "!{partitionKeyFromQuery:b}/!{partitionKeyFromQuery:a}/", ErrorOutputPrefix: "e/!{firehose:error-output-type}", DynamicPartitioning: true, QueryKeys: []string{"a", "b"}}, ""},
		{"dp needs error prefix", Config{Prefix: "x/", DynamicPartitioning: true}, "ErrorOutputPrefix is required"},
		{"raw length", Config{Prefix: strings.Repeat("a", 1025)}, "exceeds the maximum of 1024"},
		{"compression", Config{CompressionFormat: "gzip"}, "CompressionFormat"},
		{"extension", Config{FileExtension: "json"}, "FileExtension"},
		{"time zone", Config{CustomTimeZone: "Mars/Olympus"}, "not a known time zone"},
	}
	for _, c := range cases {
		if c.cfg.Bucket == "" {
			c.cfg.Bucket = "b"
		}
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case c.want != "" && err == nil:
			t.Errorf("%s: no error, want %q", c.name, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q lacks %q", c.name, err, c.want)
		case err != nil && !errors.Is(err, record.ErrInvalidArgument):
			t.Errorf("%s: error is not ErrInvalidArgument", c.name)
		}
	}
}

func TestTimestampPatterns(t *testing.T) {
	// 2016-01-01 is a Friday in ISO week 2015-W53; 13:04:05.067 local
	tm := time.Date(2016, 1, 1, 13, 4, 5, 67_000_000, time.UTC)
	cases := map[string]string{
		"yyyy/MM/dd/HH":         "2016/01/01/13",
		"yy-M-d-H":              "16-1-1-13",
		"uuuu":                  "2016",
		"YYYY-'w'ww":            "2015-w53",
		"MMM MMMM MMMMM LLL":    "Jan January J Jan",
		"DDD D":                 "001 1",
		"hh:mm a K k":           "01:04 PM 1 13",
		"ss.SSS S":              "05.067 0",
		"E EEEE EEEEE e eee":    "Fri Friday F 5 Fri",
		"'it''s' ''":            "it's '",
		"[yyyy]":                "2016",
		"'quoted ''x'' here'/H": "quoted 'x' here/13",
	}
	for pat, want := range cases {
		f, err := compileTimeFormat(pat)
		if err != nil {
			t.Errorf("%q: %v", pat, err)
			continue
		}
		if got := string(f.append(nil, tm)); got != want {
			t.Errorf("%q = %q, want %q", pat, got, want)
		}
	}
	midnight := time.Date(2016, 2, 25, 0, 30, 0, 0, time.UTC)
	f, _ := compileTimeFormat("k h K a YYYY-ww")
	if got := string(f.append(nil, midnight)); got != "24 12 0 AM 2016-08" {
		t.Errorf("midnight: %q", got)
	}
}

func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"", "a/", "!{timestamp:yyyy}", "!{firehose:random-string}/!{partitionKeyFromQuery:x}",
		"!{firehose:error-output-type}", "!{timestamp:'a''b'}", "!{", "!{}", "}{!", "!{timestamp:[yyyy]}x"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, errKind bool) {
		kind := MainPrefix
		if errKind {
			kind = ErrorPrefix
		}
		p, err := ParsePrefix(raw, kind)
		if err != nil {
			if !errors.Is(err, record.ErrInvalidArgument) {
				t.Fatalf("error not IAE: %v", err)
			}
			return
		}
		keys := map[string]string{}
		for _, k := range append(p.PartitionKeys(), p.LambdaPartitionKeys()...) {
			keys[k] = "v"
		}
		out, err := p.Render(t0, keys, "processing-failed")
		if err != nil {
			t.Fatalf("Render after successful parse: %v", err)
		}
		if !p.HasExpressions() && out != raw+"2026/07/13/14/" {
			t.Fatalf("literal prefix %q rendered %q", raw, out)
		}
	})
}

// TestTimestampPatternsMatchJava compares every supported pattern letter and count with the
// output of java.time.format.DateTimeFormatter (JDK 17, English, ISO week rules), recorded in
// testdata/java_datetimeformatter.tsv by testdata/Gen.java.txt
// (`java Gen.java > java_datetimeformatter.tsv`).
func TestTimestampPatternsMatchJava(t *testing.T) {
	data, err := os.ReadFile("testdata/java_datetimeformatter.tsv")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 4 {
			t.Fatalf("bad line %q", line)
		}
		sec, _ := strconv.ParseInt(f[0], 10, 64)
		nano, _ := strconv.ParseInt(f[1], 10, 64)
		tf, err := compileTimeFormat(f[2])
		if err != nil {
			t.Errorf("%q: %v", f[2], err)
			continue
		}
		tm := time.Unix(sec, nano).UTC()
		if got := string(tf.append(nil, tm)); got != f[3] {
			t.Errorf("%s %q = %q, Java %q", tm.Format(time.RFC3339Nano), f[2], got, f[3])
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("only %d cases", n)
	}
}
