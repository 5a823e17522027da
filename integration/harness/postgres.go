package harness

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PostgresServer is a throwaway PostgreSQL cluster on loopback (trust auth).
type PostgresServer struct {
	Host     string
	Port     int
	User     string
	Database string

	ctl func(args ...string) error // pg_ctl with the cluster's data directory and options
}

// Stop stops the server (fast shutdown: sessions are cut) until Start; the cluster and its
// data stay. For outage tests.
func (p *PostgresServer) Stop(t testing.TB) {
	t.Helper()
	if err := p.ctl("-m", "fast", "-w", "-t", "30", "stop"); err != nil {
		t.Fatal(err)
	}
}

// Start starts a server stopped by Stop again, on the same port.
func (p *PostgresServer) Start(t testing.TB) {
	t.Helper()
	if err := p.ctl("-w", "-t", "60", "start"); err != nil {
		t.Fatal(err)
	}
}

// DSN is a libpq/pgx connection string for the cluster.
func (p *PostgresServer) DSN() string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", p.User, p.Host, p.Port, p.Database)
}

// Postgres returns the shared PostgreSQL cluster, starting it on first use. It needs
// Debian's postgresql package (initdb and pg_ctl).
func Postgres(t testing.TB) *PostgresServer {
	return shared(t, "postgres", startPostgres)
}

// pgBin finds a PostgreSQL server program on PATH or in Debian's versioned directory.
func pgBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("%s not found: install Debian's postgresql package", name)
}

func startPostgres() (*PostgresServer, func() error, error) {
	initdb, err := pgBin("initdb")
	if err != nil {
		return nil, nil, err
	}
	pgctl, err := pgBin("pg_ctl")
	if err != nil {
		return nil, nil, err
	}
	dir, cleanup, err := tempDir("pg")
	if err != nil {
		return nil, nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, nil, err
	}
	// PostgreSQL refuses to run as root: run it as the postgres (or nobody) user.
	cred, owner, err := serverUser()
	if err != nil {
		return nil, nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, nil, err
		}
	}
	data := filepath.Join(dir, "data")
	run := func(args ...string) error {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(args[0]), err, out)
		}
		return nil
	}
	if err := run(initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"); err != nil {
		cleanup()
		return nil, nil, err
	}
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off", port, dir)
	if err := run(pgctl, "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		cleanup()
		return nil, nil, err
	}
	stop := func() error {
		defer cleanup()
		return run(pgctl, "-D", data, "-m", "fast", "-w", "-t", "30", "stop")
	}
	_ = owner
	s := &PostgresServer{Host: "127.0.0.1", Port: port, User: "postgres", Database: "postgres",
		ctl: func(args ...string) error {
			base := []string{pgctl, "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-o", opts}
			return run(append(base, args...)...)
		}}
	return s, stop, waitTCP(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second)
}

// serverUser returns the credential to run database servers with when we are root.
func serverUser() (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, name, nil
	}
	return nil, "", fmt.Errorf("running as root and no postgres/nobody user to run the server as")
}
