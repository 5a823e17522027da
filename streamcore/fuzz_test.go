package streamcore

import (
	"context"
	"testing"
)

func FuzzParseHashKey(f *testing.F) {
	for _, s := range []string{"0", "340282366920938463463374607431768211455", "340282366920938463463374607431768211456", "-1", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHashKey(s)
		if err == nil && h.String() != s {
			t.Fatalf("%q parsed to %s", s, h)
		}
	})
}

func FuzzParseSeqNum(f *testing.F) {
	f.Add("49670424472753470606260425006290465772635966423668097042")
	f.Add("0")
	f.Add("1234")
	f.Fuzz(func(t *testing.T, s string) {
		n, kind := parseSeqNum(s)
		if kind == seqOK && n.String() != s {
			t.Fatalf("%q decoded to %+v which encodes %s", s, n, n.String())
		}
	})
}

func FuzzIteratorAndShardID(f *testing.F) {
	e, err := Open(context.Background(), Options{Store: NewMemStore()})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close(context.Background())
	f.Add(e.encodeIterator(iterator{CreatedMs: e.nowMs(), Key: StreamKey{Account: "000000000000", Region: "us-east-1", Name: "s"}, ShardID: shardIDOf(1), Seq: "0"}))
	f.Add("AAAAAAAAAAE=")
	f.Add("shardId-000000000001")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = e.decodeIterator(s)
		if idx, ok := parseShardID(s); ok && idx < 0 {
			t.Fatalf("%q → negative index", s)
		}
	})
}
