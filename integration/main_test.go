//go:build integration

// Package integration holds Sluice's tests against real servers (MinIO, PostgreSQL, the
// sluice binary, the AWS CLI). Run them with `make integration`.
package integration

import (
	"testing"

	"github.com/sluice-io/sluice/integration/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }
