package main

// Parsing helpers that follow, rule for rule, the Kubernetes libraries k3s
// reads its files with (k8s.io/client-go/util/keyutil and util/cert, and
// rancher/dynamiclistener/cert which copies them). Written from their
// documented behaviour; no code is taken from them.
//
// keyutil.ParsePublicKeysPEM (what kube-apiserver and `k3s certificate
// rotate-ca` use for service.key) ignores PEM labels. For every block it
// tries, in this order:
//  1. an RSA private key, PKCS#1 or PKCS#8 (a PKCS#8 key that is not RSA does not count),
//  2. an RSA public key: PKIX "SubjectPublicKeyInfo", or a certificate's key,
//  3. an EC private key in SEC1 form (PKCS#8 EC keys are not tried),
//  4. an ECDSA public key: PKIX, or a certificate's key.
// A block matching none of them (PKCS#1 "RSA PUBLIC KEY", PKCS#8 EC keys,
// Ed25519, garbage) is skipped silently; only a file yielding no key at all
// is an error.
//
// keyutil.ParsePrivateKeyPEM (what k3s uses to pick the signing key and to
// read CA keys) does look at labels: "EC PRIVATE KEY" = SEC1, "RSA PRIVATE
// KEY" = PKCS#1, "PRIVATE KEY" = PKCS#8 (any algorithm). A block that fails to
// parse is skipped; the first one that parses wins.
//
// cert.ParseCertsPEM only takes "CERTIFICATE" blocks without PEM headers,
// fails on the first one that does not parse, and fails when none is found.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// kuKey is one public key as keyutil.ParsePublicKeysPEM yields it.
type kuKey struct {
	Label string           // the PEM label of the block it came from
	Pub   crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
}

// kuRSAPrivate: PKCS#1, else PKCS#8 holding an RSA key.
func kuRSAPrivate(der []byte) (*rsa.PrivateKey, bool) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, true
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, true
		}
	}
	return nil, false
}

// kuPublicOf: a PKIX public key, else the public key of a certificate.
func kuPublicOf(der []byte) (interface{}, bool) {
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		return k, true
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		return c.PublicKey, true
	}
	return nil, false
}

// kuParsePublicKeys mirrors keyutil.ParsePublicKeysPEM.
func kuParsePublicKeys(data []byte) ([]kuKey, error) {
	var keys []kuKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if k, ok := kuRSAPrivate(block.Bytes); ok {
			keys = append(keys, kuKey{block.Type, &k.PublicKey})
			continue
		}
		pub, isPub := kuPublicOf(block.Bytes)
		if rk, ok := pub.(*rsa.PublicKey); isPub && ok {
			keys = append(keys, kuKey{block.Type, rk})
			continue
		}
		if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
			keys = append(keys, kuKey{block.Type, &k.PublicKey})
			continue
		}
		if ek, ok := pub.(*ecdsa.PublicKey); isPub && ok {
			keys = append(keys, kuKey{block.Type, ek})
			continue
		}
		// anything else is tolerated and skipped
	}
	if len(keys) == 0 {
		return nil, errors.New("data does not contain any valid RSA or ECDSA public keys")
	}
	return keys, nil
}

// kuPublicKeysFromFile mirrors keyutil.PublicKeysFromFile.
func kuPublicKeysFromFile(path string) ([]kuKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := kuParsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("error reading public key file %s: %v", path, err)
	}
	return keys, nil
}

// kuParsePrivateKey mirrors keyutil.ParsePrivateKeyPEM; it also returns the
// label of the block the key came from.
func kuParsePrivateKey(data []byte) (crypto.PrivateKey, string, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key crypto.PrivateKey
		var err error
		switch block.Type {
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		default:
			continue
		}
		if err == nil {
			return key, block.Type, nil
		}
	}
	return nil, "", errors.New("data does not contain a valid RSA or ECDSA private key")
}

// kuParseCerts mirrors cert.ParseCertsPEM (client-go / dynamiclistener).
func kuParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
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
			return certs, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("data does not contain any valid RSA or ECDSA certificates")
	}
	return certs, nil
}

// kuCertsFromFile mirrors cert.CertsFromFile.
func kuCertsFromFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := kuParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("error reading %s: %s", path, err)
	}
	return certs, nil
}

// kuDescribe returns algorithm name, size in bits and the hex SHA-256 of the
// DER SubjectPublicKeyInfo of a public key.
func kuDescribe(pub crypto.PublicKey) (alg string, bits int, spki string) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		alg, bits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		alg, bits = "ECDSA", k.Curve.Params().BitSize
	default:
		alg = fmt.Sprintf("%T", pub)
	}
	if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
		sum := sha256.Sum256(der)
		spki = hex.EncodeToString(sum[:])
	}
	return alg, bits, spki
}

// kuKeyWords describes a key in plain words for error messages.
func kuKeyWords(pub crypto.PublicKey) string {
	alg, bits, spki := kuDescribe(pub)
	if len(spki) > 16 {
		spki = spki[:16]
	}
	return fmt.Sprintf("%s %d-bit key (SPKI SHA-256 %s...)", alg, bits, spki)
}
