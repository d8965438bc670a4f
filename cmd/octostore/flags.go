package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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
//
// The flag package would print its own error and usage on a bad flag, and
// then usageError prints ours: it is kept quiet here, so each is printed
// once. A bad value is reported with the flag's --name and what a good
// value looks like, not flag's bare "parse error".
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	bad := hintValues(fs)
	defer func() {
		fs.SetOutput(out)
		fs.Usage = usage
		unhintValues(fs)
	}()
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if *bad != nil {
				return nil, *bad
			}
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

// hintedValue stands in for a flag's value while the command line and the
// environment are parsed: it says what a good value looks like, and
// remembers the first bad command-line value in *bad.
type hintedValue struct {
	flag.Value
	name string
	bad  *error
}

func (v *hintedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err == nil {
		return nil
	}
	err = valueHint(v.Value, err)
	if *v.bad == nil {
		*v.bad = fmt.Errorf("invalid value %q for flag --%s: %w", s, v.name, err)
	}
	return err
}

// valueHint replaces the flag package's "parse error" with what the flag
// takes.
func valueHint(v flag.Value, err error) error {
	g, ok := v.(flag.Getter)
	if !ok {
		return err
	}
	switch g.Get().(type) {
	case time.Duration:
		return errors.New("use a duration like 30s, 5m or 1h")
	case int, int64, uint, uint64:
		if strings.Contains(err.Error(), "range") {
			return err // a number, too large
		}
		return errors.New("use a whole number")
	case float64:
		return errors.New("use a number")
	}
	return err
}

// hintValues wraps every non-boolean flag's value (a boolean's must stay
// recognisable as one, or --json would need an argument) and returns
// where the first bad value is reported.
func hintValues(fs *flag.FlagSet) *error {
	bad := new(error)
	fs.VisitAll(func(f *flag.Flag) {
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			return
		}
		f.Value = &hintedValue{Value: f.Value, name: f.Name, bad: bad}
	})
	return bad
}

// unhintValues puts the flags' own values back: PrintDefaults names a
// flag's type ("duration") from it.
func unhintValues(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if h, ok := f.Value.(*hintedValue); ok {
			f.Value = h.Value
		}
	})
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
			errs = append(errs, fmt.Errorf("invalid value %q in %s: %w", v, envName(f.Name), err))
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
	if errors.Is(err, flag.ErrHelp) { // -h: the help only, and success
		fs.Usage()
		return 0
	}
	fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
	fs.Usage()
	return exitUsage
}
