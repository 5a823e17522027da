// Package harness starts the real servers that Sluice's integration tests run against —
// MinIO, PostgreSQL and the sluice binary itself — on loopback, and stops them afterwards.
//
// Every server is named and started at most once per test binary, the first time a test
// asks for it (harness.MinIO(t), harness.Postgres(t)); TestMain calls harness.Main so that
// everything is stopped when the tests finish. Tests get addresses and credentials, never
// start processes themselves. Later servers (OpenSearch, Kafka) are added here the same way:
// a start function registered under a name in servers.go.
//
// Environment knobs:
//   - SLUICE_CACHE: where downloaded/built binaries are kept (default ~/.cache/sluice).
//   - SLUICE_MINIO_BIN: a MinIO binary to use instead of building one.
//   - SLUICE_KEEP_TMP=1: keep the servers' temp dirs for debugging.
package harness
