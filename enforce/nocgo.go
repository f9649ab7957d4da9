//go:build !cgo

package enforce

import (
	"errors"
	"os/exec"

	"github.com/sysrec/sysrec/profiles"
)

// errNoCgo is what a sysrec built without cgo says: compiling profiles
// takes libseccomp.
var errNoCgo = errors.New("this sysrec was built without cgo, so it has no libseccomp to compile profiles with: build it with CGO_ENABLED=1 and libseccomp-dev installed")

// Compile needs libseccomp; see the cgo build.
func Compile(p *profiles.Profile, opts Options) (*Filter, error) { return nil, errNoCgo }

// Exec needs the cgo trampoline; see the cgo build.
func Exec(path string, argv, env []string, f *Filter) error { return errNoCgo }

// Start needs the cgo trampoline; see the cgo build.
func Start(cmd *exec.Cmd, f *Filter) error { return errNoCgo }

// LogMarker needs the cgo trampoline; see the cgo build.
func LogMarker() (int, error) { return 0, errNoCgo }
