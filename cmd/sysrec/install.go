package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/kubelet"
	"github.com/sysrec/sysrec/profiles/tree"
)

func installCommand() *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "install seccomp profiles where the kubelet reads Localhost profiles",
		ArgsUsage: "PROFILE|DIR...",
		Description: "install validates each profile and writes it to ROOT/DIR/<name>.json,\n" +
			"atomically, with mode 0644 (directories 0755). A pod then uses it with\n" +
			"securityContext.seccompProfile {type: Localhost, localhostProfile:\n" +
			"DIR/<name>.json}; install lists that localhostProfile for each profile.\n\n" +
			"A directory written by sysrec record --containers is installed as a tree:\n" +
			"ROOT/DIR/<namespace>/<workload>/<container>.json.\n\n" +
			"No symbolic link below ROOT is followed, and a profile that does not\n" +
			"parse stops the whole install before anything is written.\n\n" +
			"Examples:\n   sysrec install web.json\n" +
			"   sysrec install --root /host/var/lib/kubelet/seccomp profiles/",
		Flags: []cli.Flag{
			outputFlag(),
			&cli.StringFlag{Name: "root", Value: kubelet.SeccompRoot, Usage: "the kubelet's seccomp `ROOT` directory"},
			&cli.StringFlag{Name: "dir", Value: "sysrec", Usage: "install below ROOT/`DIR`"},
		},
		Action: install,
	}
}

// installed is one profile that install wrote, as -o json and -o yaml
// print it.
type installed struct {
	Source           string `json:"source"`
	Path             string `json:"path"`
	LocalhostProfile string `json:"localhostProfile"`
}

func install(c *cli.Context) error {
	format, err := checkOutput(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageError("install: no profile given: usage: sysrec install [--root ROOT] [--dir DIR] PROFILE|DIR...")
	}
	dir, files, in, err := profilesToShip(c)
	if err != nil {
		return err
	}
	paths, err := kubelet.Install(c.String("root"), dir, in)
	if err != nil {
		return err
	}
	report := struct {
		Installed []installed `json:"installed"`
	}{Installed: []installed{}}
	for i, f := range files {
		report.Installed = append(report.Installed, installed{Source: f.source, Path: paths[i], LocalhostProfile: localhostProfile(dir, f.rel)})
	}
	return writeOutput(c.App.Writer, format, report, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "PROFILE\tINSTALLED AS\tLOCALHOST PROFILE")
		for _, r := range report.Installed {
			fmt.Fprintf(w, "%s\t%s\t%s\n", r.Source, r.Path, r.LocalhostProfile)
		}
	})
}

// localhostProfile is what a pod's seccompProfile.localhostProfile says
// for a profile installed at rel below dir.
func localhostProfile(dir, rel string) string { return path.Join(dir, rel) }

// profileFile is a profile named on the command line, with the path it
// gets below an install directory.
type profileFile struct {
	source  string // the file it was read from
	rel     string // slash-separated, ends in .json
	data    []byte
	profile *profiles.Profile
}

// profilesToShip reads the --dir flag and the profiles that export and
// install take as arguments.
func profilesToShip(c *cli.Context) (dir string, files []profileFile, in []kubelet.File, err error) {
	dir = c.String("dir")
	if dir == "" || cri.SanitizeName(dir) != dir {
		return "", nil, nil, usageError("--dir %q: want one plain name of letters, digits, '.', '_' or '-'", dir)
	}
	if files, err = profileFiles(c.Args().Slice()); err != nil {
		return "", nil, nil, err
	}
	in = make([]kubelet.File, len(files))
	for i, f := range files {
		in[i] = kubelet.File{Rel: f.rel, Data: f.data}
	}
	return dir, files, in, nil
}

// profileFiles reads and parses the profiles that args name: files, and
// directories that sysrec record --containers wrote, whose tree of
// <namespace>/<workload>/<container>.json is kept; such a directory's
// index.json must read, and every profile it lists must be there. A
// file's name is its base name, sanitized. Every problem is reported at
// once.
func profileFiles(args []string) ([]profileFile, error) {
	var out []profileFile
	var errs []error
	add := func(source, rel string) {
		data, err := os.ReadFile(source)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading seccomp profile: %w", err))
			return
		}
		p, err := profiles.Parse(data, source)
		if err != nil {
			errs = append(errs, err)
			return
		}
		out = append(out, profileFile{source: source, rel: rel, data: data, profile: p})
	}
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading seccomp profile: %w", err))
			continue
		}
		if !fi.IsDir() {
			add(arg, cri.SanitizeName(strings.TrimSuffix(filepath.Base(arg), ".json"))+".json")
			continue
		}
		idx, err := tree.ReadIndex(arg)
		if errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s is a directory without %s: name the profiles in it, or a directory that sysrec record --containers wrote", arg, tree.IndexFile))
			continue
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		found := map[string]bool{}
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(arg, p)
			if err != nil || d.IsDir() || rel == tree.IndexFile || !strings.HasSuffix(rel, ".json") {
				return err
			}
			rel = filepath.ToSlash(rel)
			for _, e := range strings.Split(rel, "/") {
				if cri.SanitizeName(e) != e {
					return fmt.Errorf("%s: %q is not a name that sysrec record writes: rename it", p, e)
				}
			}
			found[rel] = true
			add(p, rel)
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("reading the profiles in %s: %w", arg, err))
			continue
		}
		// The tree holds every profile its index lists: one missing means
		// a partial copy.
		for _, e := range idx.Profiles {
			if !found[e.Profile] {
				errs = append(errs, fmt.Errorf("%s: %s lists %s, which is missing: copy the whole directory", arg, tree.IndexFile, e.Profile))
			}
		}
	}
	seen := map[string]string{}
	for _, f := range out {
		if prev, ok := seen[f.rel]; ok {
			errs = append(errs, fmt.Errorf("%s and %s would both be installed as %s: rename one", prev, f.source, f.rel))
		}
		seen[f.rel] = f.source
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
