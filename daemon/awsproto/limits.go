package awsproto

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what a request may cost the server before and after its operation runs:
// the time a client may take to send its body and to take its reply, and the memory the
// bodies and replies of all requests hold at once. One Limits is shared by every endpoint
// on a listener. The zero value (and nil) applies the defaults with no memory bound.
//
// Memory is charged as it is used, never from a header: a request body's buffer grows
// with the bytes actually received, and each growth is charged; a reply is charged while
// it is being written. A request that would take memory over the bound is answered 503
// ServiceUnavailableException "Slow down." instead.
type Limits struct {
	// Memory bounds the bytes of request bodies and replies held at once (0 = unbounded).
	Memory int64
	// BodyGrace is how long a client has to start its body, on top of the time MinRate
	// allows (default DefaultBodyGrace).
	BodyGrace time.Duration
	// MinRate is the slowest average rate, in bytes per second, at which a body may arrive
	// after BodyGrace (default DefaultMinRate); a slower client's connection is closed.
	MinRate int64
	// WriteTimeout bounds the writing of one reply, or of one event of an event stream
	// (default DefaultWriteTimeout): a client that does not read is cut off.
	WriteTimeout time.Duration

	used atomic.Int64
}

// Defaults of Limits.
const (
	DefaultBodyGrace    = 10 * time.Second
	DefaultMinRate      = 64 << 10 // 64 KiB/s: a 16 MiB body may take 10 s + 256 s
	DefaultWriteTimeout = 60 * time.Second
)

// InUse returns the bytes of bodies and replies being held now.
func (l *Limits) InUse() int64 {
	if l == nil {
		return 0
	}
	return l.used.Load()
}

func (l *Limits) take(n int64) bool {
	if l == nil {
		return true
	}
	for {
		u := l.used.Load()
		if l.Memory > 0 && u+n > l.Memory {
			return false
		}
		if l.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (l *Limits) give(n int64) {
	if l != nil && n != 0 {
		l.used.Add(-n)
	}
}

func (l *Limits) grace() time.Duration {
	if l == nil || l.BodyGrace <= 0 {
		return DefaultBodyGrace
	}
	return l.BodyGrace
}

func (l *Limits) minRate() int64 {
	if l == nil || l.MinRate <= 0 {
		return DefaultMinRate
	}
	return l.MinRate
}

// WriteTimeoutOrDefault is WriteTimeout, or its default.
func (l *Limits) WriteTimeoutOrDefault() time.Duration {
	if l == nil || l.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return l.WriteTimeout
}

// ReadBody reads a request body as Endpoint.Begin does (memory charged as it arrives, the
// read deadline moving with it), for handlers outside an Endpoint. It returns the body and
// the func that gives its memory back, or the HTTP status to answer: 413 over limit, 503
// when the memory bound is full, 408 for a body too slow, 400 for a broken one.
func (l *Limits) ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, func(), int) {
	bp, charged, err := l.readBody(w, r, limit)
	if err != nil {
		return nil, nil, bodyStatus(err)
	}
	c := &Call{lim: l, buf: bp, charged: charged}
	return *bp, c.Release, http.StatusOK
}

// bodyStatus is the HTTP status of readBody's outcome (see ReadBody).
func bodyStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable
	case errors.Is(err, errSlow):
		return http.StatusRequestTimeout
	default:
		return http.StatusBadRequest
	}
}

// Body reading errors.
var (
	errTooLarge = errors.New("request body over the size limit")
	errBusy     = errors.New("request memory bound reached")
	errSlow     = errors.New("request body arrived too slowly")
)

const (
	bodyChunk = 32 << 10  // the first buffer of every body
	readChunk = 256 << 10 // the deadline moves after each chunk received, allowing for the next
	// pooledClasses: buffers of bodyChunk << 0..pooledClasses-1 (32 KiB..1 MiB) are reused;
	// larger ones go back to the GC, so the pools never keep giant buffers.
	pooledClasses = 6
)

// bodyPools[i] holds buffers of capacity exactly bodyChunk << i.
var bodyPools [pooledClasses]sync.Pool

// getBuf returns an empty buffer of capacity bodyChunk << class (pooled when it can be).
func getBuf(class int) *[]byte {
	if class < pooledClasses {
		if bp, ok := bodyPools[class].Get().(*[]byte); ok {
			*bp = (*bp)[:0]
			return bp
		}
	}
	b := make([]byte, 0, bodyChunk<<class)
	return &b
}

// putBuf gives a buffer from getBuf back.
func putBuf(bp *[]byte) {
	c := cap(*bp)
	for i := range pooledClasses {
		if c == bodyChunk<<i {
			bodyPools[i].Put(bp)
			return
		}
	}
}

// readBody reads r.Body (at most limit bytes) into a buffer that grows with what arrives
// (doubling, from 32 KiB), charging each growth to l. The read deadline moves with the
// bytes received: the body must keep arriving at MinRate on average after BodyGrace. It
// returns the buffer (give it back with putBuf) and how much of l it holds.
func (l *Limits) readBody(w http.ResponseWriter, r *http.Request, limit int64) (*[]byte, int64, error) {
	ctl := http.NewResponseController(w)
	start := time.Now()
	grace, rate := l.grace(), l.minRate()
	deadline := func(received int64) time.Time {
		return start.Add(grace + time.Duration(float64(received+readChunk)/float64(rate)*float64(time.Second)))
	}
	defer ctl.SetReadDeadline(time.Time{}) // the rest of the exchange (event streams) is not a body
	class := 0
	if !l.take(bodyChunk) {
		return nil, 0, errBusy
	}
	bp := getBuf(class)
	charged := int64(bodyChunk)
	fail := func(err error) (*[]byte, int64, error) {
		l.give(charged)
		putBuf(bp)
		return nil, 0, err
	}
	nextMove := 0
	for {
		buf := *bp
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return fail(errTooLarge)
			}
			next := int64(bodyChunk) << (class + 1)
			if !l.take(next) { // old and new buffer are both held during the copy
				return fail(errBusy)
			}
			nbp := getBuf(class + 1)
			*nbp = append(*nbp, buf...)
			l.give(charged)
			putBuf(bp)
			class, bp, charged = class+1, nbp, next
			buf = *bp
		}
		if len(buf) >= nextMove { // moving the deadline costs a timer reset: once per chunk
			_ = ctl.SetReadDeadline(deadline(int64(len(buf))))
			nextMove = len(buf) + readChunk
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		*bp = buf[:len(buf)+n]
		if int64(len(*bp)) > limit {
			return fail(errTooLarge)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fail(errSlow)
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fail(errTooLarge)
			}
			return fail(err)
		}
	}
	return bp, charged, nil
}
