package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// cert-corpus writes COUNT leaf certificates (each file [leaf, CA]) under OUT in
// subdirectories of 1000, with expiry dates spread over -30..+700 days: the
// input of the expiry-report benchmark. One P-256 key signs and is certified
// throughout, which keeps generation fast; the reader parses every file anyway.
func init() { register("cert-corpus", runCertCorpus) }

func runCertCorpus(args []string) error {
	fs := flag.NewFlagSet("cert-corpus", flag.ContinueOnError)
	out := fs.String("out", "", "output directory")
	count := fs.Int("count", 10000, "number of certificate files")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *out == "" {
		return usageError{"--out is required"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "corpus-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &key.PublicKey, key)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for i := 0; i < *count; i++ {
		dir := filepath.Join(*out, fmt.Sprintf("d%03d", i/1000))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		template := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)),
			Subject:      pkix.Name{CommonName: fmt.Sprintf("leaf-%05d", i)},
			NotBefore:    now.Add(-400 * 24 * time.Hour),
			NotAfter:     now.Add(time.Duration(i%730-30) * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, key)
		if err != nil {
			return err
		}
		body := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caPEM...)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("leaf-%05d.crt", i)), body, 0o644); err != nil {
			return err
		}
	}
	return nil
}
