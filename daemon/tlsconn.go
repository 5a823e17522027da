package daemon

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
)

// tlsListener hands out TLS connections in a wrapper that is not a *tls.Conn, so that the
// HTTP server chooses the protocol from what the client sends (the HTTP/2 preface or an
// HTTP/1.1 request line) rather than from ALPN alone: the AWS SDK for Java's Netty client —
// as KCL uses it — sends HTTP/2 with prior knowledge right after the handshake, without ALPN.
// ALPN still offers h2 and http/1.1; the handshake runs on the connection's first read, not
// in Accept. withTLSState gives requests their r.TLS back.
type tlsListener struct{ net.Listener }

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok {
		return &tlsConn{Conn: tc, tls: tc}, nil
	}
	return c, nil
}

// tlsConn is a TLS connection seen as a plain one by the HTTP server.
type tlsConn struct {
	net.Conn
	tls *tls.Conn
}

type tlsConnKey struct{}

// connContext remembers the TLS connection of a request's connection (http.Server.ConnContext).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tlsConn); ok {
		return context.WithValue(ctx, tlsConnKey{}, tc.tls)
	}
	return ctx
}

// withTLSState sets r.TLS for requests on connections from tlsListener (the handshake is
// complete by the time a request was read).
func withTLSState(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if tc, ok := r.Context().Value(tlsConnKey{}).(*tls.Conn); ok {
				st := tc.ConnectionState()
				r.TLS = &st
			}
		}
		h.ServeHTTP(w, r)
	})
}
