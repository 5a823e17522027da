// Package all links every destination of this build into a binary: importing it for its
// side effect registers each destination kind (sinks.Register) with the registry that the
// configuration loader and the Firehose API consult. The daemon imports it; so does any
// test that loads a configuration the way the daemon does. A new destination folder adds
// one line here.
package all

import (
	_ "github.com/sluice-io/sluice/sinks/httpendpoint" // HTTP endpoint
	_ "github.com/sluice-io/sluice/sinks/opensearch"   // OpenSearch (and Elasticsearch)
	_ "github.com/sluice-io/sluice/sinks/redshift"     // Redshift and PostgreSQL
	_ "github.com/sluice-io/sluice/sinks/s3"           // Extended S3 (and the S3 backup of the others)
	_ "github.com/sluice-io/sluice/sinks/splunk"       // Splunk (HTTP Event Collector)
)
