package redshift

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		url, user, pass string
		dsn, mode       string
	}{
		{"jdbc:postgresql://db.local:5433/wh", "loader", "s3cret", "postgres://loader:s3cret@db.local:5433/wh", ModeCopy},
		{"jdbc:postgresql://db.local/wh?ssl=true", "u", "", "postgres://u@db.local:5432/wh?sslmode=require", ModeCopy},
		{"jdbc:redshift://c1.abc.us-east-1.redshift.amazonaws.com/dev", "awsuser", "pw", "postgres://awsuser:pw@c1.abc.us-east-1.redshift.amazonaws.com:5439/dev", ModeRedshift},
		{"jdbc:postgresql://h:1/d?user=a&password=b&sslmode=verify-full&sslrootcert=/ca.pem", "", "", "postgres://a:b@h:1/d?sslmode=verify-full&sslrootcert=%2Fca.pem", ModeCopy},
		{"postgres://x:y@h:2/d?sslmode=disable", "", "", "postgres://x:y@h:2/d?sslmode=disable", ModeCopy},
		{"postgres://x:y@h:2/d", "z", "w", "postgres://z:w@h:2/d", ModeCopy},
	}
	for _, c := range cases {
		got, err := ParseURL(c.url, c.user, c.pass)
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got.DSN != c.dsn || got.Mode != c.mode {
			t.Errorf("%s → %s (%s), want %s (%s)", c.url, got.DSN, got.Mode, c.dsn, c.mode)
		}
	}
	for _, bad := range []string{"mysql://h/d", "jdbc:postgresql://", "jdbc:postgresql://h", "jdbc:postgresql://h/a/b", "jdbc:postgresql://u:pw@h:notaport/d"} {
		_, err := ParseURL(bad, "", "")
		if err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
}

func TestRedactHidesThePassword(t *testing.T) {
	if got := redact("postgres://u:hunter2@h/d"); strings.Contains(got, "hunter2") || !strings.Contains(got, "u:REDACTED@h") {
		t.Errorf("redact = %s", got)
	}
	if got := redact("jdbc:postgresql://h/d"); got != "jdbc:postgresql://h/d" {
		t.Errorf("redact changed a URL without credentials: %s", got)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"jdbc:postgresql://h:5432/d", "jdbc:redshift://a.b/c?ssl=true", "postgres://u:p@h/d?x=y", "postgresql://[::1]:5/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s, "user", "pw-secret")
		if err != nil {
			if strings.Contains(err.Error(), "pw-secret") {
				t.Fatalf("error shows the password: %v", err)
			}
			return
		}
		if tg.Mode != ModeCopy && tg.Mode != ModeRedshift {
			t.Fatalf("mode %q", tg.Mode)
		}
	})
}
