// Command gocheck is the test oracle of this repository: it answers questions
// about certificates and keys with Go's standard library, the same crypto/x509
// and crypto/tls that k3s uses, so the tests never rely on our own parser.
//
// Usage: gocheck <command> [flags] [args]. Each command lives in its own file
// and registers itself in init(). Exit codes: 0 = check passed, 1 = check
// failed (reason on stderr), 2 = usage error.
package main

import (
	"fmt"
	"os"
	"sort"
)

// command is one subcommand: it receives the arguments after its name.
type command func(args []string) error

var commands = map[string]command{}

// register adds a subcommand; called from init() in each command's file.
func register(name string, run command) {
	if _, dup := commands[name]; dup {
		panic("gocheck: duplicate command " + name)
	}
	commands[name] = run
}

// usageError marks an error as a usage error (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	if len(os.Args) < 2 {
		names := make([]string, 0, len(commands))
		for name := range commands {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: gocheck <command> ...\ncommands: %v\n", names)
		os.Exit(2)
	}
	run, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gocheck: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "gocheck %s: %v\n", os.Args[1], err)
		if _, ok := err.(usageError); ok {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
