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
	"math/big"
	"os"
	"time"
)

// mkca makes certificates that openssl's CLI cannot easily make, for negative
// tests: a CA valid in the past (expired), one valid only in the future, a
// "CA" without CA:TRUE, a CA without keyCertSign.
func init() { register("mkca", runMkca) }

func runMkca(args []string) error {
	fs := flag.NewFlagSet("mkca", flag.ContinueOnError)
	cn := fs.String("cn", "", "subject CN")
	caCert := fs.String("ca-cert", "", "issuer certificate (default: self-signed)")
	caKey := fs.String("ca-key", "", "issuer key")
	notBefore := fs.String("not-before", "", "start of validity, RFC3339 (default now)")
	days := fs.Int("days", 365, "validity in days")
	notCA := fs.Bool("not-ca", false, "basicConstraints CA:FALSE")
	noCertSign := fs.Bool("no-cert-sign", false, "keyUsage without keyCertSign")
	keyType := fs.String("key", "ec", "ec or rsa")
	outCert := fs.String("out-cert", "", "certificate output")
	outKey := fs.String("out-key", "", "key output (SEC1 or PKCS#1)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *cn == "" || *outCert == "" || *outKey == "" {
		return usageError{"--cn, --out-cert and --out-key are required"}
	}
	start := time.Now()
	if *notBefore != "" {
		t, err := time.Parse(time.RFC3339, *notBefore)
		if err != nil {
			return usageError{err.Error()}
		}
		start = t
	}
	var key crypto.Signer
	var keyPEM *pem.Block
	switch *keyType {
	case "ec":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return err
		}
		key, keyPEM = k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return err
		}
		key, keyPEM = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	default:
		return usageError{"--key must be ec or rsa"}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	usage := x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	if *noCertSign {
		usage = x509.KeyUsageDigitalSignature
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: *cn},
		NotBefore:             start,
		NotAfter:              start.Add(time.Duration(*days) * 24 * time.Hour),
		KeyUsage:              usage,
		BasicConstraintsValid: true,
		IsCA:                  !*notCA,
	}
	parent, signer := template, key
	if *caCert != "" {
		certs, err := readCerts(*caCert)
		if err != nil {
			return err
		}
		if signer, err = readSigner(*caKey); err != nil {
			return err
		}
		parent = certs[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, key.Public(), signer)
	if err != nil {
		return fmt.Errorf("creating certificate: %v", err)
	}
	if err := os.WriteFile(*outKey, pem.EncodeToMemory(keyPEM), 0o600); err != nil {
		return err
	}
	return os.WriteFile(*outCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
