//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-io/sluice/integration/harness"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
)

// switchProxy forwards TCP to target while up; while down it refuses (accepts and closes)
// and cuts the connections it holds: S3 as seen by the daemon goes away and comes back.
type switchProxy struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				c.Close()
				continue
			}
			go p.pipe(c)
		}
	}()
	return p
}

func (p *switchProxy) pipe(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	go func() { io.Copy(u, c); u.Close() }()
	io.Copy(c, u)
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

func (p *switchProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *switchProxy) setDown(down bool) {
	p.down.Store(down)
	if down {
		p.cut()
	}
}

func (p *switchProxy) endpoint() string { return "http://" + p.ln.Addr().String() }

// kill -9 during the catch-up after an S3 outage repeats at most what was in flight: the
// oldest retries go as soon as S3 takes writes again, flush slots are taken oldest first,
// checkpoints move record by record, and a batch gives its flush slot back only once it and
// every batch before it are covered by a stored checkpoint — so the batches delivered but
// not covered are never more than the flush concurrency. The test holds the repeat to
// flush concurrency × buffer size (a batch closes at the record that reaches the size, so
// a batch is counted as ceil(buffer / record) records); the README states the same.
// (Reported before: 29 % of the backlog delivered twice; 91 % in this test before the
// first fixes, then 2-7 MiB with 4 flights of 1 MiB before the window.)
func TestFirehoseCrashDuringCatchUpRepeatsOnlyInFlight(t *testing.T) {
	m := harness.MinIO(t)
	bucket := m.CreateBucket(t, "fh-catchup")
	proxy := newSwitchProxy(t, strings.TrimPrefix(m.Endpoint, "http://"))
	const bufSize, flights = 1 << 20, 4 // buffer, flush concurrency
	s := harness.StartSluice(t, "delivery_streams:\n  - name: catchup\n    buffer: {size: 1MiB, interval: 1s}\n    destination:\n      type: s3\n"+
		fmt.Sprintf("      s3: {bucket: %s, endpoint: '%s', region: %s, path_style: true, access_key_id: %s, secret_access_key: %s, prefix: u/, compression: GZIP}\n",
			bucket, proxy.endpoint(), m.Region, m.AccessKey, m.SecretKey))
	c := firehoseClient(s.Endpoint)
	ctx := context.Background()

	proxy.setDown(true) // the outage
	pad := strings.Repeat("q", 200)
	var want []string
	for b := 0; len(want)*len(pad) < 100<<20; b++ { // ~100 MiB of backlog
		recs := make([]types.Record, 500)
		for i := range recs {
			recs[i] = types.Record{Data: []byte(fmt.Sprintf(`{"b":%d,"i":%d,"p":"%s"}`+"\n", b, i, pad))}
		}
		out, err := c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("catchup"), Records: recs})
		if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
			t.Fatalf("PutRecordBatch during the outage: %v", err)
		}
		for _, r := range recs {
			want = append(want, strings.TrimSuffix(string(r.Data), "\n"))
		}
	}
	recSize := len(want[0]) + 1
	time.Sleep(3 * time.Second) // failed attempts, backoff
	proxy.setDown(false)
	// catch-up under way: the first objects land, then the crash
	deadline := time.Now().Add(60 * time.Second)
	for {
		keys, _ := m.Objects(ctx, bucket, "u/")
		if len(keys) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no object after S3 came back")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Kill()
	keys, _ := m.Objects(ctx, bucket, "u/")
	t.Logf("killed with %d objects delivered of a %d MiB backlog", len(keys), len(want)*recSize>>20)
	if len(keys)*bufSize >= len(want)*recSize {
		t.Fatal("the kill landed after the catch-up; this test needs a larger backlog")
	}
	s.Start()
	seen, _ := waitRecords(t, m, bucket, "u/", s3sink.GZIP, want, 180*time.Second)
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups += n - 1
		}
	}
	bound := flights * ((bufSize + recSize - 1) / recSize)
	t.Logf("%d records (%d MiB); %d delivered again after the crash (%.1f %%, %.2f MiB), bound %d (flush concurrency %d × buffer %d MiB)",
		len(want), len(want)*recSize>>20, dups, 100*float64(dups)/float64(len(want)), float64(dups*recSize)/(1<<20), bound, flights, bufSize>>20)
	if dups > bound {
		t.Errorf("%d records delivered twice after a crash during catch-up; want at most flush concurrency × buffer size (%d)", dups, bound)
	}
}
