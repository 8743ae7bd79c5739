package main

import (
	"crypto/x509"
	"flag"
	"fmt"
	"time"
)

// verify checks the first certificate of CERTFILE with crypto/x509 against
// the given roots; the other certificates of CERTFILE and the
// --intermediates files are offered as intermediates.
func init() { register("verify", runVerify) }

func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var roots, inters stringsFlag
	fs.Var(&roots, "roots", "PEM file of trusted roots (repeatable, required)")
	fs.Var(&inters, "intermediates", "PEM file of intermediates (repeatable)")
	at := fs.String("at", "", "verification time, RFC3339 (default now)")
	usage := fs.String("usage", "any", "required extended key usage: any, server or client")
	pos, err := parseFlagsAnyOrder(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(roots) == 0 {
		return usageError{"usage: gocheck verify --roots FILE [--intermediates FILE]... [--at RFC3339] [--usage any|server|client] CERTFILE"}
	}
	opts := x509.VerifyOptions{}
	switch *usage {
	case "any":
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	case "server":
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case "client":
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return usageError{"--usage must be any, server or client"}
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageError{"--at: " + err.Error()}
		}
		opts.CurrentTime = t
	}
	if opts.Roots, err = poolFromFiles(roots); err != nil {
		return err
	}
	if opts.Intermediates, err = poolFromFiles(inters); err != nil {
		return err
	}
	certs, err := readCerts(pos[0])
	if err != nil {
		return err
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return fmt.Errorf("%s: %v", pos[0], err)
	}
	out := struct {
		Chains [][]string `json:"chains"`
	}{Chains: [][]string{}}
	for _, ch := range chains {
		out.Chains = append(out.Chains, chainCNs(ch))
	}
	return printJSON(out)
}
