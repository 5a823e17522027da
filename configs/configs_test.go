// Package configs holds the example configuration files shipped with Sluice; its test
// keeps them valid as the configuration schema evolves.
package configs

import (
	"testing"

	"github.com/sluice-io/sluice/daemon/config"
	_ "github.com/sluice-io/sluice/sinks/all" // the destinations the daemon links
)

func TestShippedConfigsAreValid(t *testing.T) {
	for _, f := range []string{"sluice.yaml", "compose.yaml", "../daemon/config/reference.yaml"} {
		cfg, err := config.Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(cfg.Streams) == 0 {
			t.Errorf("%s: declares no stream", f)
		}
	}
}
