package kinesisapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// tokenLife is how long a NextToken stays valid (reference §4).
const tokenLife = 300 * time.Second

// pageToken is the state behind a NextToken of ListStreams, ListShards or
// ListStreamConsumers. Tokens are base64url(JSON ‖ HMAC) so clients cannot forge them.
type pageToken struct {
	Kind    string    `json:"k"`
	Issued  int64     `json:"t"`
	Account string    `json:"a"`
	Region  string    `json:"r"`
	Stream  string    `json:"s,omitempty"`
	After   string    `json:"x,omitempty"`
	Filter  filterTok `json:"f,omitempty"`
}

type filterTok struct {
	Type    string `json:"t,omitempty"`
	ShardID string `json:"s,omitempty"`
	TS      int64  `json:"ts,omitempty"`
}

func fromFilter(f streamcore.ShardFilter) filterTok {
	t := filterTok{Type: f.Type, ShardID: f.ShardID}
	if !f.Timestamp.IsZero() {
		t.TS = f.Timestamp.UnixMilli()
	}
	return t
}

func (t filterTok) toFilter() streamcore.ShardFilter {
	f := streamcore.ShardFilter{Type: t.Type, ShardID: t.ShardID}
	if t.TS != 0 {
		f.Timestamp = time.UnixMilli(t.TS).UTC()
	}
	return f
}

type tokenCodec struct{ key []byte }

func newTokenCodec() tokenCodec {
	k := make([]byte, 32)
	rand.Read(k)
	return tokenCodec{key: k}
}

func (c tokenCodec) encode(t pageToken, now time.Time) string {
	t.Issued = now.UnixMilli()
	b, _ := json.Marshal(t)
	m := hmac.New(sha256.New, c.key)
	m.Write(b)
	b = m.Sum(b)[:len(b)+16]
	return base64.RawURLEncoding.EncodeToString(b)
}

func invalidToken() *awsproto.Error {
	return awsproto.NewError(awsproto.TypeInvalidArgument, "Invalid NextToken.")
}

func (c tokenCodec) decode(s string, now time.Time) (pageToken, *awsproto.Error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 17 {
		return t, invalidToken()
	}
	body, sum := b[:len(b)-16], b[len(b)-16:]
	m := hmac.New(sha256.New, c.key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil)[:16], sum) || json.Unmarshal(body, &t) != nil {
		return t, invalidToken()
	}
	if now.UnixMilli()-t.Issued > tokenLife.Milliseconds() {
		return t, awsproto.NewError(string(streamcore.CodeExpiredNextToken), "The NextToken has expired.")
	}
	return t, nil
}
