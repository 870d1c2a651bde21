package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// parseOps parses an operations command's arguments: its own flags (defined on own),
// every shared store flag of serve with its TOLLGATE_* twin, and positional
// arguments anywhere on the line, so `tollgate backup out.db --data-dir /srv` and
// `tollgate backup --data-dir /srv out.db` mean the same.
func parseOps(name, synopsis string, own *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) (Config, []string, error) {
	var shared []string
	for _, s := range settings {
		pass := func(v string) error { shared = append(shared, "--"+s.flag+"="+v); return nil }
		if s.flag == "access-log" {
			own.BoolFunc(s.flag, s.usage, pass)
		} else {
			own.Func(s.flag, s.usage, pass)
		}
	}
	own.SetOutput(stderr)
	own.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tollgate %s\n\n", synopsis)
		own.VisitAll(func(f *flag.Flag) {
			if isSharedFlag(f.Name) {
				return
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(stderr, "  --%-16s %s%s\n", f.Name, f.Usage, def)
		})
		fmt.Fprintf(stderr, "Also the store flags of serve (--data-dir, --database-url, --secret-key …,\nor their TOLLGATE_* variables); see: tollgate serve --help\n")
	}
	var positional []string
	for {
		if err := own.Parse(args); err != nil {
			return Config{}, nil, err
		}
		rest := own.Args()
		if len(rest) == 0 {
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	cfg, _, err := ParseFlags(name, shared, getenv, stderr)
	return cfg, positional, err
}

func isSharedFlag(name string) bool {
	for _, s := range settings {
		if s.flag == name {
			return true
		}
	}
	return false
}

// opsUsageError prints a one-line complaint and the command's usage.
func opsUsageError(own *flag.FlagSet, stderr io.Writer, format string, args ...any) error {
	fmt.Fprintf(stderr, "tollgate %s: %s\n\n", strings.TrimPrefix(own.Name(), "tollgate "), fmt.Sprintf(format, args...))
	own.Usage()
	return errUsage
}
