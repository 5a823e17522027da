//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/integration/harness"
	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sinks/opensearch"
	"github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/record"
)

// With sigv4 set the sink signs every request as Amazon OpenSearch Service expects: a proxy
// in front of the real node checks each signature (service "es") with Sluice's own SigV4
// verifier and refuses what is unsigned or signed with the wrong key; a signed sink
// delivers, an unsigned or wrongly keyed one is refused.
func TestOpenSearchSigV4(t *testing.T) {
	node := harness.OpenSearch(t)
	target, err := url.Parse(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	ver := &awsproto.Verifier{Service: "es", DefaultRegion: "eu-west-1",
		Credentials: []awsproto.Credential{{AccessKeyID: "AKIDSIGV4TEST", SecretAccessKey: "sigv4-secret", Actions: []string{"*"}, Resources: []string{"*"}}}}
	var verified, refused atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, aerr := ver.Verify(r, body); aerr != nil {
			refused.Add(1)
			http.Error(w, `{"message":"The request signature we calculated does not match the signature you provided."}`, http.StatusForbidden)
			return
		}
		verified.Add(1)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Del("Authorization")
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	index := fmt.Sprintf("sigv4-%d", time.Now().UnixNano())
	ctx := context.Background()
	build := func(sv *opensearch.SigV4) sinks.Sink {
		return opensearch.New(opensearch.Config{Endpoint: proxy.URL, Index: index, Rotation: opensearch.NoRotation, DocumentIDs: true, SigV4: sv})
	}
	good := build(&opensearch.SigV4{Region: "eu-west-1", AccessKeyID: "AKIDSIGV4TEST", SecretAccessKey: s3.Secret("sigv4-secret")})
	if err := good.Connect(ctx); err != nil {
		t.Fatalf("Connect with SigV4: %v", err)
	}
	defer good.Close(ctx)
	b := sinks.Batch{}
	for i := range 20 {
		b.Records = append(b.Records, record.Record{Data: fmt.Appendf(nil, `{"i":%d}`, i), SequenceNumber: fmt.Sprintf("%056d", i), ArrivalMs: time.Now().UnixMilli()})
	}
	if res := good.Write(ctx, b); res.Err != nil || res.Records != nil {
		t.Fatalf("signed Write: %+v", res)
	}
	if got := osWaitCount(t, node, index, 20, 0); got != 20 {
		t.Fatalf("%d documents after the signed write, want 20", got)
	}
	if verified.Load() < 2 || refused.Load() != 0 {
		t.Fatalf("proxy verified %d and refused %d requests; want every request signed", verified.Load(), refused.Load())
	}

	for name, sv := range map[string]*opensearch.SigV4{
		"unsigned":  nil,
		"wrong key": {Region: "eu-west-1", AccessKeyID: "AKIDSIGV4TEST", SecretAccessKey: s3.Secret("not-the-secret")},
	} {
		s := build(sv)
		err := s.Connect(ctx)
		if err == nil {
			err = s.Write(ctx, b).Err
		}
		if err == nil || !strings.Contains(err.Error(), "403") && !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
		if strings.Contains(fmt.Sprint(err), "not-the-secret") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
		s.Close(ctx)
	}
}

// TLS with a CA file: in front of the real node, a TLS proxy with its own certificate; the
// sink trusts it through ca_file and delivers; without the CA file the handshake is refused.
func TestOpenSearchTLSWithCAFile(t *testing.T) {
	node := harness.OpenSearch(t)
	target, err := url.Parse(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	index := fmt.Sprintf("tls-%d", time.Now().UnixNano())
	ctx := context.Background()
	trusted := opensearch.New(opensearch.Config{Endpoint: proxy.URL, Index: index, Rotation: opensearch.NoRotation, DocumentIDs: true, CAFile: caFile})
	if err := trusted.Connect(ctx); err != nil {
		t.Fatalf("Connect over TLS with the CA file: %v", err)
	}
	defer trusted.Close(ctx)
	b := sinks.Batch{Records: []record.Record{{Data: []byte(`{"tls":true}`), SequenceNumber: "1", ArrivalMs: time.Now().UnixMilli()}}}
	if res := trusted.Write(ctx, b); res.Err != nil || res.Records != nil {
		t.Fatalf("Write over TLS: %+v", res)
	}
	untrusted := opensearch.New(opensearch.Config{Endpoint: proxy.URL, Index: index, Rotation: opensearch.NoRotation})
	defer untrusted.Close(ctx)
	if err := untrusted.Connect(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Connect without the CA file: %v, want a certificate error", err)
	}
}
