package config

// The tests load configurations the way the daemon does: with every destination linked.
import _ "github.com/sluice-io/sluice/sinks/all"
