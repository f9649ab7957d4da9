package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/containers"
	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/recorder"
)

// containerFilterFlags are --namespace, --pod and --container, which
// parseContainerFilter reads; what says what they select.
func containerFilterFlags(what string) []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "namespace", Usage: what + " in Kubernetes (or containerd) namespace `NS` (repeatable)"},
		&cli.StringFlag{Name: "pod", Usage: what + " in pods whose name matches `REGEX`"},
		&cli.StringFlag{Name: "container", Usage: what + " called `NAME`"},
	}
}

// parseContainerFilter reads --namespace, --pod and --container.
func parseContainerFilter(c *cli.Context) (containers.Filter, error) {
	f := containers.Filter{Namespaces: c.StringSlice("namespace"), Container: c.String("container")}
	if p := c.String("pod"); p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return f, usageError("--pod: %w", err)
		}
		f.Pod = re
	}
	return f, nil
}

// connect connects to the runtimes as --runtime-endpoint and
// --containerd-address say; when that fails, the error ends with hint,
// which names the flags.
func connect(ctx context.Context, endpoint, containerdAddress, hint string) (*cri.Conn, error) {
	conn, err := cri.Connect(ctx, endpoint, containerdAddress)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, hint)
	}
	return conn, nil
}

func recordContainers(c *cli.Context, log *slog.Logger, action profiles.Action, opts recorder.Options) error {
	if c.NArg() > 0 {
		return usageError("record --containers takes no command; got %q", c.Args().First())
	}
	outDir := c.String("output-dir")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	filter, err := parseContainerFilter(c)
	if err != nil {
		return err
	}

	ctx := c.Context
	conn, err := connect(ctx, c.String("runtime-endpoint"), c.String("containerd-address"), "see --runtime-endpoint and --containerd-address")
	if err != nil {
		return err
	}
	defer conn.Close()
	node, err := containers.OpenNode(conn, containers.NodeOptions{
		Recorder: opts,
		Logger:   log,
	})
	if err != nil {
		return err
	}
	defer node.Close()
	rec, roots := node.Recorder, node.Roots
	previous, sessions, err := containers.ReadTree(outDir)
	if err != nil {
		return fmt.Errorf("%w (or record into another --output-dir)", err)
	}
	if len(previous) > 0 {
		log.Info("continuing the profiles already in the output directory", "dir", outDir, "profiles", len(previous), "sessions", sessions)
	}
	sess, err := containers.Start(ctx, rec, containers.Options{
		Resolver: conn, Filter: filter, Build: buildOptions(c, action), Runtime: conn.Runtime(), Logger: log,
		Previous: previous, PreviousSessions: sessions,
	})
	if err != nil {
		return err
	}
	defer sess.Close()
	log.Info("recording containers; stop with Ctrl-C", "roots", roots)

	runCtx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if d := c.Duration("duration"); d > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(runCtx, d)
		defer cancel()
	}
	// Flush now and then, so that a crash loses at most an interval; SIGINT
	// and SIGTERM end the loop, and the final write follows it.
	flusher := containers.NewFlusher(outDir)
	var flush, redraw <-chan time.Time
	if d := c.Duration("flush-interval"); d > 0 {
		tick := time.NewTicker(d)
		defer tick.Stop()
		flush = tick.C
	}
	view := newLiveView(c.App.ErrWriter)
	if view != nil {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		redraw = tick.C
	}
	for running := true; running; {
		select {
		case <-runCtx.Done():
			running = false
		case <-flush:
			snap, err := sess.Snapshot()
			if err == nil {
				_, err = flusher.Write(snap)
			}
			if err != nil {
				log.Warn("flushing the profiles; trying again at the next interval", "err", err)
				continue
			}
			log.Debug("flushed the profiles", "dir", outDir, "profiles", len(snap.Workloads))
		case <-redraw:
			if snap, err := sess.Snapshot(); err == nil {
				view.draw(snap.Containers)
			}
		}
	}

	snap, err := sess.Snapshot()
	if err != nil {
		return err
	}
	idx, err := flusher.Write(snap)
	if err != nil {
		return err
	}
	for _, w := range idx.Warnings {
		log.Warn(w)
	}
	fmt.Fprintf(c.App.ErrWriter, "sysrec: %d profiles from %d container cgroups written to %s\n", len(idx.Profiles), snap.Cgroups, outDir)
	return nil
}
