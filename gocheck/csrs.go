package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// csrs writes many certificate signing requests for benchmarks: alternately
// P-256 (ec-<i>.csr) and RSA-2048 (rsa-<i>.csr), each for host-<i> with a DNS
// name and an IP address. P-256 keys are new for every CSR; RSA keys come from
// a small pool, since generating thousands of RSA keys is not what a
// benchmark of signing measures.
func init() { register("csrs", runCsrs) }

func runCsrs(args []string) error {
	fs := flag.NewFlagSet("csrs", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write the CSRs to (created)")
	count := fs.Int("count", 10000, "number of CSRs")
	pool := fs.Int("rsa-keys", 16, "number of distinct RSA-2048 keys")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *out == "" || *count < 1 || *pool < 1 {
		return usageError{"usage: gocheck csrs --out DIR [--count N] [--rsa-keys N]"}
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	rsaKeys := make([]crypto.Signer, 0, *pool)
	for i := 0; i < *pool; i++ {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		rsaKeys = append(rsaKeys, key)
	}
	for i := 0; i < *count; i++ {
		var key crypto.Signer
		kind := "ec"
		if i%2 == 1 {
			kind = "rsa"
			key = rsaKeys[(i/2)%len(rsaKeys)]
		} else {
			ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return err
			}
			key = ec
		}
		host := fmt.Sprintf("host-%d", i)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject:     pkix.Name{CommonName: host},
			DNSNames:    []string{host + ".example.com"},
			IPAddresses: []net.IP{net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))},
		}, key)
		if err != nil {
			return err
		}
		path := filepath.Join(*out, fmt.Sprintf("%s-%d.csr", kind, i))
		block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
		if err := os.WriteFile(path, block, 0o600); err != nil {
			return err
		}
	}
	return nil
}
