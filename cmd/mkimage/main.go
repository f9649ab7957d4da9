// Command mkimage builds a container image of host files without a
// container engine, as a docker-archive tar for `ctr images import` and
// CRI-O (skopeo). `make image` builds sysrec's with it; run it with -h for
// its flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sysrec/sysrec/internal/ociimage"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run parses args, builds the image and writes it, and returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mkimage:", err)
		return 2
	}
	if err := build(o, stdout); err != nil {
		fmt.Fprintln(stderr, "mkimage:", err)
		return 1
	}
	return 0
}

func build(o *options, stdout io.Writer) error {
	spec, err := o.spec()
	if err != nil {
		return err
	}
	img, err := ociimage.Build(spec)
	if err != nil {
		return err
	}
	if err := ociimage.WriteDockerArchiveFile(o.out, o.tag, img); err != nil {
		return err
	}
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fi, err := os.Stat(o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mkimage: wrote %s: %s, %.1f MiB, image id %s, manifest %s\n",
		o.out, o.tag, float64(fi.Size())/(1<<20), id, digest)
	return nil
}
