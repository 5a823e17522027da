package redshift

import (
	"net"
	"net/url"
	"strings"

	"github.com/sluice-io/sluice/sources/record"
)

// Load modes (firehose.md §6; the README names both).
const (
	// ModeCopy loads each flushed buffer straight into the table with the COPY protocol
	// (and, with exactly-once on, the delivery stream's checkpoint in the same transaction).
	ModeCopy = "copy"
	// ModeRedshift is Firehose's own path: stage the buffer in the intermediate S3 bucket,
	// write a manifest, run one COPY per manifest.
	ModeRedshift = "redshift"
)

// Target is where the rows go: a pgx connection string and the load mode its URL implies.
type Target struct {
	DSN  string // postgres://… (credentials included; never logged)
	Mode string // the default load mode of the URL's form
	Host string // host:port, for messages and logs
	DB   string
}

// ParseURL turns ClusterJDBCURL into a pgx connection string. It accepts
// jdbc:postgresql://host[:port]/db[?…], jdbc:redshift://host[:port]/db[?…] (default port
// 5439) and plain postgres:// or postgresql:// URLs; username and password, when set, replace
// those of the URL. JDBC's ssl=true becomes sslmode=require; libpq's parameters (sslmode,
// sslrootcert, …) pass through. Errors are client-facing.
func ParseURL(raw, username, password string) (Target, error) {
	var t Target
	rest, defPort := "", "5432"
	switch {
	case strings.HasPrefix(raw, "jdbc:postgresql://"):
		rest, t.Mode = strings.TrimPrefix(raw, "jdbc:postgresql://"), ModeCopy
	case strings.HasPrefix(raw, "jdbc:redshift://"):
		rest, t.Mode, defPort = strings.TrimPrefix(raw, "jdbc:redshift://"), ModeRedshift, "5439"
	case strings.HasPrefix(raw, "postgres://"):
		rest, t.Mode = strings.TrimPrefix(raw, "postgres://"), ModeCopy
	case strings.HasPrefix(raw, "postgresql://"):
		rest, t.Mode = strings.TrimPrefix(raw, "postgresql://"), ModeCopy
	default:
		return t, record.InvalidArgument("ClusterJDBCURL %q must start with jdbc:postgresql://, jdbc:redshift://, postgres:// or postgresql://.", redact(raw))
	}
	u, err := url.Parse("postgres://" + rest)
	if err != nil {
		return t, record.InvalidArgument("ClusterJDBCURL %q is not a valid URL: %v", redact(raw), urlErr(err))
	}
	if u.Hostname() == "" {
		return t, record.InvalidArgument("ClusterJDBCURL %q names no host.", redact(raw))
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return t, record.InvalidArgument("ClusterJDBCURL %q must name one database after the host (…/<database>).", redact(raw))
	}
	port := u.Port()
	if port == "" {
		port = defPort
	}
	u.Host = net.JoinHostPort(u.Hostname(), port)
	q := u.Query()
	if q.Get("ssl") == "true" && q.Get("sslmode") == "" {
		q.Set("sslmode", "require")
	}
	q.Del("ssl")
	for _, k := range []string{"user", "password"} { // JDBC spells credentials as parameters
		if v := q.Get(k); v != "" {
			if k == "user" && username == "" {
				username = v
			}
			if k == "password" && password == "" {
				password = v
			}
			q.Del(k)
		}
	}
	if username == "" && u.User != nil {
		username = u.User.Username()
	}
	if password == "" && u.User != nil {
		password, _ = u.User.Password()
	}
	switch {
	case username != "" && password != "":
		u.User = url.UserPassword(username, password)
	case username != "":
		u.User = url.User(username)
	default:
		u.User = nil
	}
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + literally
	t.DSN, t.Host, t.DB = u.String(), u.Host, db
	return t, nil
}

// redact drops the password from a URL for messages.
func redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	at := strings.LastIndex(raw, "@")
	if at < i {
		return raw
	}
	cred := raw[i+3 : at]
	if c := strings.IndexByte(cred, ':'); c >= 0 {
		return raw[:i+3] + cred[:c] + ":REDACTED" + raw[at:]
	}
	return raw
}

// urlErr is err without the URL it quotes (which may hold a password).
func urlErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
