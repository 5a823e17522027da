// Package sdnotify speaks systemd's service notification protocol: datagrams of
// newline-separated `KEY=VALUE` lines sent to the unix socket named by $NOTIFY_SOCKET
// (a path, or `@name` for the Linux abstract namespace). Without $NOTIFY_SOCKET every
// call is a no-op, so a daemon can notify unconditionally.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Standard states.
const (
	Ready     = "READY=1"
	Stopping  = "STOPPING=1"
	Reloading = "RELOADING=1"
	Watchdog  = "WATCHDOG=1"
)

// Notifier sends notifications to one socket. The zero value (and nil) is a no-op.
// Safe for concurrent use.
type Notifier struct {
	addr *net.UnixAddr
}

// New returns a Notifier for socket, which is a filesystem path or `@name` for the
// abstract namespace. An empty socket gives a no-op Notifier.
func New(socket string) *Notifier {
	if socket == "" {
		return &Notifier{}
	}
	name := socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET.
func FromEnv() *Notifier { return New(os.Getenv("NOTIFY_SOCKET")) }

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Notify sends one datagram with the given state lines (e.g. Ready, "STATUS=recovering").
// It returns nil without sending when the Notifier is disabled.
func (n *Notifier) Notify(states ...string) error {
	if !n.Enabled() {
		return nil
	}
	msg := ""
	for i, s := range states {
		if i > 0 {
			msg += "\n"
		}
		msg += s
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: dial %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sdnotify: send: %w", err)
	}
	return nil
}

// WatchdogInterval returns how often to send WATCHDOG=1: half of $WATCHDOG_USEC, when
// the watchdog is enabled for this process ($WATCHDOG_PID unset or equal to our pid).
// It returns 0 when no watchdog is configured.
func WatchdogInterval() time.Duration {
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond / 2
}

// RunWatchdog sends WATCHDOG=1 every interval until ctx is done. healthy, if non-nil, is
// consulted before each ping; a false answer skips the ping so systemd notices the hang.
// It returns at once when interval <= 0 or the Notifier is disabled.
func (n *Notifier) RunWatchdog(ctx context.Context, interval time.Duration, healthy func() bool) {
	if interval <= 0 || !n.Enabled() {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if healthy == nil || healthy() {
				_ = n.Notify(Watchdog)
			}
		}
	}
}
