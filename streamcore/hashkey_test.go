package streamcore

import "testing"

func TestPartitionHashVectors(t *testing.T) {
	ranges := EvenRanges(3)
	tests := []struct {
		key   string
		hash  string
		shard int
	}{
		{"a", "16955237001963240173058271559858726497", 0},
		{"b", "195289424170611159128911017612795795343", 1},
		{"e", "299611584147932843547128611849858313266", 2},
	}
	for _, tc := range tests {
		h := PartitionHash(tc.key)
		if h.String() != tc.hash {
			t.Errorf("%q: hash %s, want %s", tc.key, h, tc.hash)
		}
		if !ranges[tc.shard].Contains(h) {
			t.Errorf("%q: not in shard %d", tc.key, tc.shard)
		}
	}
}

func TestEvenRanges(t *testing.T) {
	two := EvenRanges(2)
	if two[1].Start.String() != "170141183460469231731687303715884105728" {
		t.Errorf("N=2 boundary %s", two[1].Start)
	}
	three := EvenRanges(3)
	want := []string{"113427455640312821154458202477256070484", "226854911280625642308916404954512140969", "340282366920938463463374607431768211455"}
	for i, w := range want {
		if three[i].End.String() != w {
			t.Errorf("N=3 shard %d ends %s, want %s", i, three[i].End, w)
		}
		if i > 0 && three[i].Start != three[i-1].End.Add(1) {
			t.Errorf("N=3 gap before shard %d", i)
		}
	}
}

func TestParseHashKey(t *testing.T) {
	for _, ok := range []string{"0", "1", "340282366920938463463374607431768211455"} {
		h, err := ParseHashKey(ok)
		if err != nil || h.String() != ok {
			t.Errorf("ParseHashKey(%q) = %v, %v", ok, h, err)
		}
	}
	for _, bad := range []string{"", "-1", "01", "340282366920938463463374607431768211456", "1e5"} {
		_, err := ParseHashKey(bad)
		want := "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " + bad
		if e, ok := err.(*Error); !ok || e.Code != CodeInvalidArgument || e.Msg != want {
			t.Errorf("ParseHashKey(%q) err = %v", bad, err)
		}
	}
}
