package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// flagsFirst returns args with each command's flags moved before its
// positional arguments, so that flags may follow arguments:
//
//	sysrec merge a.json b.json -o m.json
//
// urfave/cli v2 parses flags with the standard flag package, which stops at
// the first positional argument and hands the rest, flags included, to
// the command as arguments (urfave/cli issues 427 and 1950). Moving the
// flags up front before urfave parses them keeps its parsing, help and
// errors as they are.
//
// "--" still ends the flags: what follows it stays where it is, so that
// "sysrec record -o x.json -- CMD -o y" passes "-o y" to CMD.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	return append([]string{args[0]}, reorder(args[1:], app.Flags, app.Commands)...)
}

// reorder moves the flags in args (a command's arguments, after its name)
// before its positional arguments. A command with subcommands takes its
// flags before the subcommand's name only, as urfave reads them: that is
// how the global flags stay before the command name.
func reorder(args []string, flags []cli.Flag, subcommands []*cli.Command) []string {
	var front, positional, rest []string
	help := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			rest = args[i:]
			break
		}
		if !isFlag(arg) {
			if len(positional) == 0 && len(subcommands) > 0 {
				return append(front, subcommand(args[i:], subcommands)...)
			}
			positional = append(positional, arg)
			continue
		}
		front = append(front, arg)
		help = help || isHelp(arg)
		if strings.Contains(arg, "=") || !takesValue(flags, arg) {
			continue
		}
		if i+1 == len(args) {
			// The flag package reports the missing value only if it is the
			// last argument: "merge a.json b.json -o" must not write to a.json.
			return front
		}
		// The value goes along, whatever it looks like: the flag package
		// takes the next argument as the value of a flag that needs one,
		// even "-5" or "--".
		i++
		front = append(front, args[i])
	}
	if help {
		// urfave shows help for the topic that the first argument names, and
		// none for a file name: the arguments do not matter to help.
		return front
	}
	if rest != nil {
		// "--" right after the flags ends them for the flag package too; one
		// after a positional argument would be left among the arguments.
		front = append(front, "--")
		rest = rest[1:]
	}
	return append(append(front, positional...), rest...)
}

// subcommand reorders args, which start with the name of one of
// subcommands, for that subcommand. A name that is none of them is left
// with what follows for urfave to report as an unknown command.
func subcommand(args []string, subcommands []*cli.Command) []string {
	for _, c := range subcommands {
		if c.HasName(args[0]) {
			return append([]string{args[0]}, reorder(args[1:], c.Flags, c.Subcommands)...)
		}
	}
	return args
}

// isFlag reports whether the flag package would read arg as a flag: a lone
// "-" is an argument (stdin or stdout).
func isFlag(arg string) bool {
	return len(arg) > 1 && arg[0] == '-'
}

// flagName is the name of the flag in arg: "output" for --output=x.
func flagName(arg string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-"), "=")
	return name
}

// isHelp reports whether arg asks for help: -h, --help or --help=true.
func isHelp(arg string) bool {
	if cli.HelpFlag == nil || !slices.Contains(cli.HelpFlag.Names(), flagName(arg)) {
		return false
	}
	_, value, set := strings.Cut(arg, "=")
	on, err := strconv.ParseBool(value)
	return !set || err == nil && on
}

// takesValue reports whether the flag that arg names (-o, --output) reads
// the next argument as its value. Bool flags, and the help flag, do not.
// A flag that is not defined takes none: the flag package rejects it
// anyway, and the next argument must not vanish with it.
func takesValue(flags []cli.Flag, arg string) bool {
	name := flagName(arg)
	for _, f := range flags {
		if !slices.Contains(f.Names(), name) {
			continue
		}
		// Every flag type of urfave/cli says whether it takes a value, for
		// its help text; one that does not say surely does.
		df, ok := f.(cli.DocGenerationFlag)
		return !ok || df.TakesValue()
	}
	return false
}

// usageErrors returns the handler that makes a mistake in the flags a
// usage error (exit status 2) that says where help is, instead of urfave's
// help text on stdout and exit status 1. An unknown flag that follows the
// command's first argument may be meant for that argument (sysrec run -p
// p.json ls -la): the error then shows the command line with "--" before
// the arguments.
func usageErrors(app *cli.App, args []string) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			if line, ok := dashDashed(app, args, name); ok {
				return usageError("%w: see %s --help; if %s is an argument, put -- before the arguments: %s", err, c.Command.HelpName, "-"+name, line)
			}
		}
		return usageError("%w: see %s --help", err, c.Command.HelpName)
	}
}

// dashDashed returns args, as a shell command line, with "--" put before
// the command's first argument, if the flag name comes after it and no
// "--" is there yet.
func dashDashed(app *cli.App, args []string, name string) (string, bool) {
	i := 1
	flags := app.Flags
	var cmd *cli.Command
	for ; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return "", false
		case isFlag(arg):
			if !strings.Contains(arg, "=") && takesValue(flags, arg) {
				i++
			}
		case cmd == nil:
			if cmd = app.Command(arg); cmd == nil {
				return "", false
			}
			flags = cmd.Flags
		default:
			for _, later := range args[i+1:] {
				if isFlag(later) && flagName(later) == name {
					line := slices.Concat(args[:i], []string{"--"}, args[i:])
					line[0] = app.Name
					return shellJoin(line), true
				}
			}
			return "", false
		}
	}
	return "", false
}

// shellJoin quotes the words that a shell would split or expand.
func shellJoin(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		quoted[i] = w
	}
	return strings.Join(quoted, " ")
}

// reportUsageErrors sets handle on each of commands, and their
// subcommands, that has no handler of its own.
func reportUsageErrors(commands []*cli.Command, handle cli.OnUsageErrorFunc) {
	for _, c := range commands {
		if c.OnUsageError == nil {
			c.OnUsageError = handle
		}
		reportUsageErrors(c.Subcommands, handle)
	}
}
