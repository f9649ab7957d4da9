package report

import (
	"bytes"
	_ "embed"
	"html/template"
	"io"
	"strings"
)

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"join": strings.Join,
}).Parse(pageTemplate))

// Render writes page as HTML. Everything that came from a profile, a
// provenance file or an index is escaped.
func Render(w io.Writer, page *Page) error {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// HTML builds and renders the page for workloads.
func HTML(ws []Workload, opts Options) ([]byte, error) {
	page, err := Build(ws, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := Render(&buf, page); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
