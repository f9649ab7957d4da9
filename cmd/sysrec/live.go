package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/sysrec/sysrec/containers"
)

// liveView redraws, on a terminal, what record --containers sees: each
// container, its live tasks and how many distinct syscalls it has made so
// far. Off a terminal it is never created, so logs and scripts see nothing
// of it.
type liveView struct {
	w     io.Writer
	start time.Time
	lines int // lines drawn last time, erased before the next draw
}

// newLiveView returns a view on w when w is a terminal, else nil.
func newLiveView(w io.Writer) *liveView {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &liveView{w: w, start: time.Now()}
}

// liveRow is one container in the view.
type liveRow struct {
	name     string
	live     int64
	syscalls int
	flags    string
}

// draw replaces the previous view with one of the containers recorded.
func (v *liveView) draw(ctrs []containers.Container) {
	var rows []liveRow
	for _, c := range ctrs {
		var flags []string
		if c.Partial {
			flags = append(flags, "partial")
		}
		if c.Filtered {
			flags = append(flags, "filtered")
		}
		rows = append(rows, liveRow{
			name:     c.Info.PodNamespace + "/" + c.Info.PodName + "/" + c.Info.Name,
			live:     c.Live,
			syscalls: c.Syscalls,
			flags:    strings.Join(flags, ","),
		})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })

	var b bytes.Buffer
	if v.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.lines) // up, then clear to the end
	}
	fmt.Fprintf(&b, "recording for %s: %d containers (Ctrl-C to stop and write the profiles)\n", time.Since(v.start).Round(time.Second), len(rows))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tLIVE TASKS\tSYSCALLS\tNOTES")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", r.name, r.live, r.syscalls, r.flags)
	}
	tw.Flush()
	v.lines = bytes.Count(b.Bytes(), []byte("\n"))
	v.w.Write(b.Bytes())
}
