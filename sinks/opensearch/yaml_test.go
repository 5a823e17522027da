package opensearch_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/sinks/opensearch"
	_ "github.com/sluice-io/sluice/sinks/s3"
)

func TestYAML(t *testing.T) {
	y := `delivery_streams:
  - name: logs
    destination:
      type: opensearch
      opensearch:
        endpoint: https://search.example:9200
        index: logs
        rotation: OneWeek
        document_id: NO_DOCUMENT_ID
        username: firehose
        password: hunter22
        pipeline: enrich
        s3: {bucket: backup, error_output_prefix: 'failed/'}
        s3_backup_mode: AllDocuments
`
	c, err := config.Parse("c.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := c.DeliveryStreams[0].DestinationConfig("arn:aws:iam::000000000000:role/sluice")
	if err != nil {
		t.Fatal(err)
	}
	a := dc.(*opensearch.API)
	if a.ClusterEndpoint != "https://search.example:9200" || a.IndexName != "logs" || a.IndexRotationPeriod != opensearch.OneWeek ||
		a.DocumentIdOptions.DefaultDocumentIdFormat != "NO_DOCUMENT_ID" || a.SluiceUsername != "firehose" || a.SluicePassword != "hunter22" ||
		a.SluicePipeline != "enrich" || a.S3Configuration.Bucket() != "backup" || a.S3BackupMode != opensearch.AllDocuments {
		t.Errorf("API %+v", a)
	}
	if b, _ := json.Marshal(a.Describe()); strings.Contains(string(b), "hunter22") || strings.Contains(string(b), "firehose\"") {
		t.Errorf("description shows the credentials: %s", b)
	}

	for bad, want := range map[string]string{
		"endpoint: https://x\n        s3: {bucket: b}\n":                                              "opensearch.index: is required",
		"index: i\n        s3: {bucket: b}\n":                                                         "opensearch.endpoint: is required",
		"endpoint: https://x\n        index: i\n":                                                     "opensearch.s3: is required",
		"endpoint: https://x\n        index: i\n        rotation: OneYear\n        s3: {bucket: b}\n": "opensearch.rotation",
		"endpoint: ftp://x\n        index: i\n        s3: {bucket: b}\n":                              "not an http",
		"endpoint: https://x\n        index: i\n        username: u\n        s3: {bucket: b}\n":       "username and password go together",
		"endpoint: https://x\n        index: i\n        nope: 1\n        s3: {bucket: b}\n":           "opensearch.nope: unknown key",
	} {
		doc := "delivery_streams:\n  - name: a\n    destination:\n      type: opensearch\n      opensearch:\n        " + bad
		if _, err := config.Parse("c.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", bad, err, want)
		}
	}
}
