package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("octostore "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, which must all be flags, then fills every flag
// not given on the command line from its OCTOSTORE_<FLAG> environment
// variable. Flags win over the environment, the environment over defaults.
func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseWithArgs(fs, args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	return err
}

// parseWithArgs is parseFlags for commands that take arguments: flags may
// come before or after them.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return rest, applyEnv(fs)
}

// alternatives are flags that say the same thing two ways: one given on
// the command line hides the other's environment variable, so
// --token-file beats an OCTOSTORE_TOKEN left in the shell.
var alternatives = map[string]string{"token": "token-file", "token-file": "token"}

func applyEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(envName(f.Name))
		if set[f.Name] || set[alternatives[f.Name]] || !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
		}
	})
	return errors.Join(errs...)
}

func envName(flagName string) string {
	return "OCTOSTORE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// usageError prints a one-line reason and the command's flags, and returns
// the usage exit code.
func usageError(fs *flag.FlagSet, err error) int {
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
		fs.Usage()
		return exitUsage
	}
	return 0
}
