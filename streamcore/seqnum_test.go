package streamcore

import "testing"

func TestSeqNumVectors(t *testing.T) {
	tests := []struct {
		name string
		n    seqNum
		want string
	}{
		{"record", seqNum{CreatedSec: 1767225600, Index: 1, SeqIx: 5, ArrivalSec: 1767225661}, "49670424472753470606260425006290465772635966423668097042"},
		{"starting", seqNum{CreatedSec: 1767225600, Index: 1, SeqIx: 0, ArrivalSec: 1767225600}, "49670424472753470606260425006284421143537889085906485266"},
		{"ending", seqNum{CreatedSec: 1767225600, Index: 1, SeqIx: seqIxEnd, ArrivalSec: 1767229200}, "49670424472764620978859690317853980076854846027601018898"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.n.String()
			if got != tc.want || len(got) != 56 {
				t.Fatalf("encode = %s, want %s", got, tc.want)
			}
			back, kind := parseSeqNum(got)
			if kind != seqOK || back != tc.n {
				t.Fatalf("decode = %+v (%v), want %+v", back, kind, tc.n)
			}
		})
	}
}

func TestSeqNumStartingStep(t *testing.T) {
	// Shards created together: index i+1's starting number exceeds i's by 2^144+16.
	a := seqNum{CreatedSec: 1767225600, Index: 1, ArrivalSec: 1767225600}.String()
	b := seqNum{CreatedSec: 1767225600, Index: 2, ArrivalSec: 1767225600}.String()
	if compareSeq(a, b) >= 0 {
		t.Fatalf("%s !< %s", a, b)
	}
}

func TestParseSeqNumRejects(t *testing.T) {
	tests := []struct {
		in   string
		want seqErrKind
	}{
		{"", seqMalformed},
		{"01", seqMalformed},
		{"12a", seqMalformed},
		{"0", seqForeign},
		{"12345678901234567890123456789012345678", seqForeign},                   // v0
		{"49670424472753470606260425006290465772635966423668097041", seqForeign}, // version nibble 1
	}
	for _, tc := range tests {
		if _, got := parseSeqNum(tc.in); got != tc.want {
			t.Errorf("parseSeqNum(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// run's digit additions give exactly what String gives record by record, across carries
// and for shards with large indexes and SeqIx near the end of the range.
func TestSeqNumRun(t *testing.T) {
	for _, base := range []seqNum{
		{CreatedSec: 1767225600, Index: 1, SeqIx: 1, ArrivalSec: 1767225661},
		{CreatedSec: 1767225600, Index: 4095, SeqIx: 999_999_990, ArrivalSec: 1767229999},
		{CreatedSec: 1999999999, Index: 1<<31 - 1, SeqIx: seqIxEnd - 600, ArrivalSec: 1999999999},
	} {
		got := base.run(500)
		for k, s := range got {
			n := base
			n.SeqIx += uint64(k)
			if want := n.String(); s != want {
				t.Fatalf("%+v record %d: %s, want %s", base, k, s, want)
			}
		}
	}
	if got := (seqNum{}).run(0); len(got) != 0 {
		t.Fatalf("run(0) = %v", got)
	}
}

func BenchmarkSeqNum(b *testing.B) {
	base := seqNum{CreatedSec: 1767225600, Index: 3, SeqIx: 12345, ArrivalSec: 1767225661}
	b.Run("String", func(b *testing.B) {
		for b.Loop() {
			n := base
			for k := 0; k < 500; k++ {
				_ = n.String()
				n.SeqIx++
			}
		}
	})
	b.Run("run", func(b *testing.B) {
		for b.Loop() {
			_ = base.run(500)
		}
	})
}
