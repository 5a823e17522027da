package httpendpoint_test

import (
	"strings"
	"testing"

	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/sinks/httpendpoint"
	_ "github.com/sluice-io/sluice/sinks/s3"
)

func TestYAML(t *testing.T) {
	y := `delivery_streams:
  - name: events
    destination:
      type: http_endpoint
      http_endpoint:
        url: https://collector.example/ingest
        name: collector
        access_key: k3y
        content_encoding: GZIP
        common_attributes: {team: a, env: prod}
        s3_backup_mode: AllData
        backup_on_413: true
        request_timeout: 30s
        ca_file: /etc/ca.pem
        s3: {bucket: backup, error_output_prefix: 'failed/'}
`
	c, err := config.Parse("c.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := c.DeliveryStreams[0].DestinationConfig("arn:aws:iam::000000000000:role/sluice")
	if err != nil {
		t.Fatal(err)
	}
	a := dc.(*httpendpoint.API)
	ec, rc := a.EndpointConfiguration, a.RequestConfiguration
	if ec.Url != "https://collector.example/ingest" || *ec.Name != "collector" || ec.AccessKey != "k3y" || rc.ContentEncoding != "GZIP" ||
		len(rc.CommonAttributes) != 2 || rc.CommonAttributes[0].AttributeName != "env" || a.S3BackupMode != "AllData" ||
		!a.SluiceBackupOn413 || a.SluiceTimeoutSeconds != 30 || a.SluiceCAFile != "/etc/ca.pem" || a.S3Configuration.Bucket() != "backup" {
		t.Errorf("decoded %+v %+v %+v", a, ec, rc)
	}
}

func TestYAMLErrorsNameTheField(t *testing.T) {
	y := `delivery_streams:
  - name: events
    destination:
      type: http_endpoint
      http_endpoint:
        url: http://collector.example/ingest
        content_encoding: BROTLI
        s3_backup_mode: Some
        request_timeout: 10m
        colour: blue
`
	_, err := config.Parse("c.yaml", []byte(y))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{"http_endpoint.content_encoding", "http_endpoint.s3_backup_mode", "http_endpoint.request_timeout",
		"http_endpoint.s3: is required", "colour"} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
}
