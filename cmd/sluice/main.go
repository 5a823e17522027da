// Command sluice is the Sluice daemon: a self-hosted Amazon Kinesis Data Streams and
// Firehose. Everything but flag parsing lives in packages (daemon, daemon/config, …).
//
//	sluice serve [-config FILE]
//	sluice validate [-check-sinks] [-timeout 3s] FILE
//	sluice validate -print-reference
//	sluice version
//	sluice bench [flags]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/sluice-io/sluice/daemon"
	"github.com/sluice-io/sluice/daemon/config"
	"github.com/sluice-io/sluice/daemon/procs"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `Usage:
  sluice serve [-config FILE]        run the daemon (embedded default config without -config)
  sluice validate [-check-sinks] FILE
                                     check a config file; print every problem; exit 1 if any
  sluice validate -print-reference   print every config key with its default and range
  sluice version                     print the version
  sluice bench [flags]               load generator (see sluice bench -h)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	daemon.Version = version
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "sluice %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "bench":
		return runBench(args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default: the embedded default)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice serve: unexpected argument %q (use -config FILE)\n", fs.Arg(0))
		return 2
	}
	cfg := config.Default()
	if *path != "" {
		var err error
		if cfg, err = config.Load(*path); err != nil {
			printProblems(stderr, err)
			return 1
		}
	}
	log, level := daemon.NewLogger(cfg.Log, stderr)
	procs.Set()
	// From here on SIGTERM/SIGINT stop the daemon gracefully, also while storage is
	// still being recovered (Run takes over the signals once it serves).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := daemon.New(cfg, log, daemon.WithLevelVar(level))
	if err != nil {
		log.Error("cannot start", "config", cfg.File, "err", err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		log.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checkSinks := fs.Bool("check-sinks", false, "also dial every delivery destination and report the unreachable ones")
	timeout := fs.Duration("timeout", 3*time.Second, "dial timeout for -check-sinks")
	printRef := fs.Bool("print-reference", false, "print the commented reference of every key and exit")
	// Flags may come before or after FILE.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *printRef {
		stdout.Write(config.Reference())
		return 0
	}
	if len(files) != 1 {
		fmt.Fprint(stderr, "usage: sluice validate [-check-sinks] [-timeout 3s] FILE\n")
		return 2
	}
	cfg, err := config.Load(files[0])
	if err != nil {
		printProblems(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%d streams, %d delivery streams)\n", files[0], len(cfg.Streams), len(cfg.DeliveryStreams))
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w.Error())
	}
	if *checkSinks {
		results := daemon.CheckSinks(context.Background(), cfg, *timeout)
		bad := 0
		for _, r := range results {
			switch {
			case r.Err != nil && r.Checked:
				bad++
				fmt.Fprintf(stdout, "%s (%s): %s: CHECK FAILED: %v\n", r.Path, r.Name, r.Endpoint, r.Err)
			case r.Err != nil:
				bad++
				fmt.Fprintf(stdout, "%s (%s): %s: UNREACHABLE: %v\n", r.Path, r.Name, r.Endpoint, r.Err)
			case r.Checked:
				fmt.Fprintf(stdout, "%s (%s): %s: connected, destination checked\n", r.Path, r.Name, r.Endpoint)
			default:
				fmt.Fprintf(stdout, "%s (%s): %s: reachable\n", r.Path, r.Name, r.Endpoint)
			}
		}
		if len(results) == 0 {
			fmt.Fprintln(stdout, "no delivery destination with a network endpoint to check")
		}
		if bad > 0 {
			fmt.Fprintf(stdout, "%d of %d destinations unreachable or failing their check\n", bad, len(results))
			return 1
		}
	}
	return 0
}

func printProblems(w io.Writer, err error) {
	ps := config.Problems(err)
	if len(ps) == 0 {
		fmt.Fprintln(w, err)
		return
	}
	for _, p := range ps {
		fmt.Fprintln(w, p.Error())
	}
	fmt.Fprintf(w, "%d problem(s) found\n", len(ps))
}
