package redshift

import (
	"gopkg.in/yaml.v3"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/s3"
)

// YAML is the `destination.redshift` block of a `delivery_streams` entry.
//
//	destination:
//	  type: redshift
//	  redshift:
//	    url: postgres://loader@127.0.0.1:5432/warehouse   # or jdbc:postgresql://…, jdbc:redshift://…
//	    username: loader          # optional; replaces the URL's
//	    password: secret          # optional; never logged or described
//	    table: public.events
//	    columns: id,ts,kind,value,payload
//	    copy_options: "JSON 'auto'"
//	    mode: copy                # copy | redshift (default: redshift for jdbc:redshift: URLs)
//	    exactly_once: true        # copy mode; default true
//	    s3: {bucket: staging, error_output_prefix: 'rs-errors/', endpoint: 'http://127.0.0.1:9000', …}
//	    s3_backup_mode: Disabled  # Enabled: every record also to backup_s3
//	    backup_s3: {bucket: backup}
type YAML struct {
	URL          string    `yaml:"url"`
	Username     string    `yaml:"username"`
	Password     s3.Secret `yaml:"password"`
	Table        string    `yaml:"table"`
	Columns      string    `yaml:"columns"`
	CopyOptions  string    `yaml:"copy_options"`
	Mode         string    `yaml:"mode"`
	ExactlyOnce  *bool     `yaml:"exactly_once"`
	S3BackupMode string    `yaml:"s3_backup_mode"`
	// s3 and backup_s3 are S3 blocks (as for type s3), decoded by the s3 destination
}

// fromYAML decodes and checks the block (sinks.Kind.FromYAML).
func fromYAML(v sinks.ConfigChecks, node *yaml.Node, path string) (sinks.Config, *sinks.S3Conn) {
	var y YAML
	rest, blocks := sinks.SplitBlocks(node, "s3", "backup_s3")
	v.Decode(rest, path, &y)
	s3Block, backupBlock := blocks["s3"], blocks["backup_s3"]
	v.Required(path+".url", y.URL)
	v.Required(path+".table", y.Table)
	if y.Mode != "" {
		v.OneOf(path+".mode", y.Mode, ModeCopy, ModeRedshift)
	}
	if y.S3BackupMode != "" {
		v.OneOf(path+".s3_backup_mode", y.S3BackupMode, "Disabled", "Enabled")
	}
	a := &API{RoleARN: "arn:aws:iam::000000000000:role/sluice", ClusterJDBCURL: y.URL,
		CopyCommand: &CopyCommand{DataTableName: y.Table}, SluiceLoadMode: y.Mode, SluiceExactlyOnce: y.ExactlyOnce,
		S3BackupMode: y.S3BackupMode}
	if y.Columns != "" {
		a.CopyCommand.DataTableColumns = &y.Columns
	}
	if y.CopyOptions != "" {
		a.CopyCommand.CopyOptions = &y.CopyOptions
	}
	if y.Username != "" {
		a.Username = &y.Username
	}
	if y.Password != "" {
		p := string(y.Password)
		a.Password = &p
	}
	s3kind, _ := sinks.Lookup("s3")
	var conn *sinks.S3Conn
	if s3Block == nil {
		v.Errorf(path+".s3", "is required: the intermediate bucket (Redshift mode stages data there; rows the table refuses go under its error prefix)")
	} else {
		c, cn := s3kind.FromYAML(v, s3Block, path+".s3")
		if sc, ok := c.(*s3.API); ok {
			a.S3Configuration = sc
		}
		conn = cn
	}
	if backupBlock != nil {
		if c, _ := s3kind.FromYAML(v, backupBlock, path+".backup_s3"); c != nil {
			a.S3BackupConfiguration, _ = c.(*s3.API)
		}
	} else if y.S3BackupMode == "Enabled" {
		v.Errorf(path+".backup_s3", "is required with s3_backup_mode Enabled")
	}
	if y.URL != "" && y.Table != "" && a.S3Configuration != nil {
		if err := a.Validate(nil); err != nil {
			v.Errorf(path, "%s", messageOf(err))
		}
	}
	return a, conn
}
