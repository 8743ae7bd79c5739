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
	"net"
	"os"
	"time"
)

// issue signs a leaf certificate with a CA certificate and key (test
// tooling: TLS handshakes, etcd peers).
func init() { register("issue", runIssue) }

func runIssue(args []string) error {
	fs := flag.NewFlagSet("issue", flag.ContinueOnError)
	caCert := fs.String("ca-cert", "", "issuer certificate PEM (first certificate signs; required)")
	caKey := fs.String("ca-key", "", "issuer private key PEM (first key; required)")
	cn := fs.String("cn", "", "subject CN (required)")
	usage := fs.String("usage", "", "extended key usage: server, client or both (required)")
	var dnsNames, ips stringsFlag
	fs.Var(&dnsNames, "dns", "DNS SAN (repeatable)")
	fs.Var(&ips, "ip", "IP SAN (repeatable)")
	days := fs.Int("days", 30, "validity in days")
	keyType := fs.String("key", "ec", "leaf key type: ec (P-256) or rsa (2048)")
	chain := fs.Bool("chain", false, "append the certificates of --ca-cert after the leaf")
	notBefore := fs.String("not-before", "", "start of validity, RFC3339 (default now)")
	outCert := fs.String("out-cert", "", "certificate output (required)")
	outKey := fs.String("out-key", "", "PKCS#8 key output, mode 0600 (required)")
	pos, err := parseFlagsAnyOrder(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *caCert == "" || *caKey == "" || *cn == "" || *usage == "" || *outCert == "" || *outKey == "" {
		return usageError{"usage: gocheck issue --ca-cert FILE --ca-key FILE --cn NAME --usage server|client|both [--dns NAME]... [--ip IP]... [--days N] [--key ec|rsa] [--chain] [--not-before RFC3339] --out-cert FILE --out-key FILE"}
	}
	var ekus []x509.ExtKeyUsage
	switch *usage {
	case "server":
		ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case "client":
		ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case "both":
		ekus = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	default:
		return usageError{"--usage must be server, client or both"}
	}
	var ipAddrs []net.IP
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return usageError{fmt.Sprintf("--ip %q: not an IP address", s)}
		}
		ipAddrs = append(ipAddrs, ip)
	}
	if *days <= 0 {
		return usageError{"--days must be positive"}
	}
	start := time.Now()
	if *notBefore != "" {
		t, err := time.Parse(time.RFC3339, *notBefore)
		if err != nil {
			return usageError{"--not-before: " + err.Error()}
		}
		start = t
	}

	caCerts, err := readCerts(*caCert)
	if err != nil {
		return err
	}
	caSigner, err := readSigner(*caKey)
	if err != nil {
		return fmt.Errorf("%s: %v", *caKey, err)
	}

	var key crypto.Signer
	switch *keyType {
	case "ec":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return usageError{"--key must be ec or rsa"}
	}
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}

	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return err
	}
	if serial.Sign() == 0 {
		serial.SetInt64(1)
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: *cn},
		NotBefore:             start,
		NotAfter:              start.Add(time.Duration(*days) * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           ekus,
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ipAddrs,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, caCerts[0], key.Public(), caSigner)
	if err != nil {
		return fmt.Errorf("signing with %s / %s: %v", *caCert, *caKey, err)
	}

	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if *chain {
		for _, c := range caCerts {
			certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	if err := writeFileMode(*outKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileMode(*outCert, certPEM, 0o644)
}

// writeFileMode writes data to path and makes sure it ends up with mode perm,
// even when the file already existed.
func writeFileMode(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
