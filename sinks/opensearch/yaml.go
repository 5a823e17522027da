package opensearch

import (
	"gopkg.in/yaml.v3"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// YAML is the `destination.opensearch` block of a `delivery_streams` entry.
//
//	destination:
//	  type: opensearch
//	  opensearch:
//	    endpoint: https://search.example.com:9200   # ClusterEndpoint
//	    index: events                               # IndexName
//	    type_name: ""                               # _type (Elasticsearch 6 and older only)
//	    rotation: OneDay                            # NoRotation | OneHour | OneDay (default) | OneWeek | OneMonth
//	    document_id: FIREHOSE_DEFAULT               # or NO_DOCUMENT_ID
//	    username: firehose                          # basic auth; never logged or described
//	    password: secret
//	    ca_file: /etc/sluice/opensearch-ca.pem
//	    pipeline: enrich                            # ingest pipeline of every _bulk request
//	    s3: {bucket: backup, error_output_prefix: 'os-failed/', endpoint: 'http://127.0.0.1:9000'}
//	    s3_backup_mode: FailedDocumentsOnly         # AllDocuments: every record also under s3's prefix
//	    sigv4: {region: eu-west-1, service: es}     # Amazon OpenSearch Service (instead of username/password)
type YAML struct {
	Endpoint     string    `yaml:"endpoint"`
	Index        string    `yaml:"index"`
	TypeName     string    `yaml:"type_name"`
	Rotation     string    `yaml:"rotation"`
	DocumentID   string    `yaml:"document_id"`
	Username     string    `yaml:"username"`
	Password     s3.Secret `yaml:"password"`
	CAFile       string    `yaml:"ca_file"`
	Pipeline     string    `yaml:"pipeline"`
	S3BackupMode string    `yaml:"s3_backup_mode"`
	// SigV4 signs requests (Amazon OpenSearch Service) instead of basic auth.
	SigV4 *SigV4YAML `yaml:"sigv4"`
	// s3 is an S3 block (as for type s3), decoded by the s3 destination
}

// SigV4YAML is the `sigv4` block: region, service (es or aoss), and static keys (empty: the
// AWS default chain; the EC2 instance metadata service only with instance_metadata).
type SigV4YAML struct {
	Region           string    `yaml:"region"`
	Service          string    `yaml:"service"`
	AccessKeyID      string    `yaml:"access_key_id"`
	SecretAccessKey  s3.Secret `yaml:"secret_access_key"`
	InstanceMetadata bool      `yaml:"instance_metadata"`
}

// fromYAML decodes and checks the block (sinks.Kind.FromYAML).
func fromYAML(v sinks.ConfigChecks, node *yaml.Node, path string) (sinks.Config, *sinks.S3Conn) {
	var y YAML
	rest, blocks := sinks.SplitBlocks(node, "s3")
	s3Block := blocks["s3"]
	v.Decode(rest, path, &y)
	v.Required(path+".endpoint", y.Endpoint)
	v.Required(path+".index", y.Index)
	if y.Rotation != "" {
		v.OneOf(path+".rotation", y.Rotation, Rotations...)
	}
	if y.DocumentID != "" {
		v.OneOf(path+".document_id", y.DocumentID, defaultDocumentIDFmt, noDocumentID)
	}
	if y.S3BackupMode != "" {
		v.OneOf(path+".s3_backup_mode", y.S3BackupMode, FailedDocumentsOnly, AllDocuments)
	}
	if (y.Username == "") != (y.Password == "") {
		v.Errorf(path+".password", "username and password go together")
	}
	a := &API{RoleARN: "arn:aws:iam::000000000000:role/sluice", ClusterEndpoint: y.Endpoint, IndexName: y.Index,
		IndexRotationPeriod: y.Rotation, S3BackupMode: y.S3BackupMode, SluiceUsername: y.Username,
		SluicePassword: string(y.Password), SluiceCAFile: y.CAFile, SluicePipeline: y.Pipeline}
	if y.TypeName != "" {
		a.TypeName = &y.TypeName
	}
	if y.DocumentID != "" {
		a.DocumentIdOptions = &DocumentIdOptions{DefaultDocumentIdFormat: y.DocumentID}
	}
	if sv := y.SigV4; sv != nil {
		if sv.Service != "" {
			v.OneOf(path+".sigv4.service", sv.Service, "es", "aoss")
		}
		if (sv.AccessKeyID == "") != (sv.SecretAccessKey == "") {
			v.Errorf(path+".sigv4.secret_access_key", "access_key_id and secret_access_key go together")
		}
		if y.Username != "" {
			v.Errorf(path+".sigv4", "cannot be combined with username/password")
		}
		a.SluiceSigV4 = &SigV4{Region: sv.Region, Service: sv.Service, AccessKeyID: sv.AccessKeyID,
			SecretAccessKey: sv.SecretAccessKey, InstanceMetadata: sv.InstanceMetadata}
	}
	var conn *sinks.S3Conn
	if s3Block == nil {
		v.Errorf(path+".s3", "is required: the bucket documents the cluster refuses go to")
	} else {
		s3kind, _ := sinks.Lookup("s3")
		c, cn := s3kind.FromYAML(v, s3Block, path+".s3")
		if sc, ok := c.(*s3.API); ok {
			a.S3Configuration = sc
		}
		conn = cn
	}
	if y.Endpoint != "" && y.Index != "" && a.S3Configuration != nil {
		if err := a.Validate(nil); err != nil {
			v.Errorf(path, "%s", record.Message(err))
		}
	}
	return a, conn
}
