package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
)

// hashca prints the k3s join-token CA hash of a PEM bundle, computed the way
// k3s pkg/clientaccess hashCA does: with one certificate, SHA-256 of the file
// bytes; with more, SHA-256 of the DER of the root that the first certificate
// chains to (falling back to the file bytes when it does not verify).
func init() { register("hashca", runHashCA) }

func runHashCA(args []string) error {
	if len(args) != 1 {
		return usageError{"usage: gocheck hashca FILE"}
	}
	path := args[0]
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	certs, err := parseCertsLikeK3s(data)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	hashed := data
	if len(certs) > 1 {
		roots := x509.NewCertPool()
		intermediates := x509.NewCertPool()
		for _, c := range certs[1:] {
			if len(c.AuthorityKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
				roots.AddCert(c)
			} else {
				intermediates.AddCert(c)
			}
		}
		chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates})
		if err == nil {
			chain := chains[0]
			hashed = chain[len(chain)-1].Raw
		}
	}
	sum := sha256.Sum256(hashed)
	fmt.Println(hex.EncodeToString(sum[:]))
	return nil
}

// parseCertsLikeK3s mirrors certutil.ParseCertsPEM: only CERTIFICATE blocks
// without headers count; a bad certificate or no certificate is an error.
func parseCertsLikeK3s(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("data does not contain any valid RSA or ECDSA certificates")
	}
	return certs, nil
}
