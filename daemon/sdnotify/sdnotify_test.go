package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listen opens a unix datagram socket that plays systemd.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyPathSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	c := listen(t, sock)
	t.Setenv("NOTIFY_SOCKET", sock)
	n := FromEnv()
	if !n.Enabled() {
		t.Fatal("not enabled with NOTIFY_SOCKET set")
	}
	if err := n.Notify(Ready, "STATUS=serving"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "READY=1\nSTATUS=serving" {
		t.Fatalf("got %q", got)
	}
	if err := n.Notify(Stopping); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "STOPPING=1" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("sluice-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := listen(t, "\x00"+name)
	if err := New("@" + name).Notify(Ready); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c); got != "READY=1" {
		t.Fatalf("got %q", got)
	}
}

func TestDisabledIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n.Enabled() || n.Notify(Ready) != nil {
		t.Fatal("disabled notifier did something")
	}
	var nilN *Notifier
	if nilN.Notify(Ready) != nil {
		t.Fatal("nil notifier failed")
	}
}

func TestMissingSocketIsAnError(t *testing.T) {
	if err := New(filepath.Join(t.TempDir(), "absent.sock")).Notify(Ready); err == nil {
		t.Fatal("no error for a missing socket")
	}
}

func TestWatchdog(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "40000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if got := WatchdogInterval(); got != 20*time.Millisecond {
		t.Fatalf("interval = %v, want 20ms", got)
	}
	t.Setenv("WATCHDOG_PID", "1")
	if got := WatchdogInterval(); got != 0 {
		t.Fatalf("watchdog for another pid: %v", got)
	}
	t.Setenv("WATCHDOG_PID", "")
	t.Setenv("WATCHDOG_USEC", "")
	if WatchdogInterval() != 0 {
		t.Fatal("watchdog without WATCHDOG_USEC")
	}

	sock := filepath.Join(t.TempDir(), "wd.sock")
	c := listen(t, sock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { New(sock).RunWatchdog(ctx, 5*time.Millisecond, nil); close(done) }()
	for range 2 {
		if got := recv(t, c); got != "WATCHDOG=1" {
			t.Fatalf("got %q", got)
		}
	}
	cancel()
	<-done
}
