package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// csr-check parses a PEM certificate signing request and checks its
// self-signature as a CA built with Go would (CertificateRequest.CheckSignature:
// SHA-1 allowed on requests, RSASSA-PSS with a salt as long as the hash):
// prints the signature algorithm and exits 0, or exits 1 with Go's error.
func init() { register("csr-check", runCsrCheck) }

func runCsrCheck(args []string) error {
	if len(args) != 1 {
		return usageError{"usage: gocheck csr-check FILE"}
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return fmt.Errorf("%s: no PEM block", args[0])
	}
	request, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %v", args[0], err)
	}
	if err := request.CheckSignature(); err != nil {
		return fmt.Errorf("%s: %v", args[0], err)
	}
	fmt.Println(request.SignatureAlgorithm)
	return nil
}
