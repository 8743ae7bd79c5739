package main

import (
	"crypto/x509"
	"flag"
	"strings"
)

// stringsFlag is a repeatable string flag (--roots a --roots b).
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// parseFlagsAnyOrder parses flags that may appear before or after positional
// arguments, and returns the positional arguments. Everything after "--" is
// positional. Parse errors become usage errors.
func parseFlagsAnyOrder(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// poolFromFiles returns a pool of every certificate of the given PEM files.
func poolFromFiles(paths []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range paths {
		certs, err := readCerts(p)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// chainCNs returns the subject CNs of a certificate chain, leaf first.
func chainCNs(chain []*x509.Certificate) []string {
	names := make([]string, 0, len(chain))
	for _, c := range chain {
		names = append(names, c.Subject.CommonName)
	}
	return names
}
