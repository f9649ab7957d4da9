package main

// Output of the listing commands: -o table|json|yaml, one schema for JSON
// and YAML, tabwriter tables, as crictl and ctr do.

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"
)

// outputFormats are the values of -o of the listing commands.
var outputFormats = []string{"table", "json", "yaml"}

// outputFlag is -o, which every listing command takes.
func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "print as `FORMAT`: table, json or yaml"}
}

// checkOutput validates -o before any work is done.
func checkOutput(c *cli.Context) (string, error) {
	f := c.String("output")
	if !slices.Contains(outputFormats, f) {
		return "", usageError("-o %q: want one of %s", f, strings.Join(outputFormats, ", "))
	}
	return f, nil
}

// writeOutput prints v as JSON or YAML (one schema: YAML is made from the
// JSON encoding), or as the table that table writes.
func writeOutput(w io.Writer, format string, v any, table func(*tabwriter.Writer)) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		_, err = w.Write(data)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}
