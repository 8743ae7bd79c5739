package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// describe-key prints one object per PEM block of a key file. "format" is
// decided by the content (which parser accepts the DER), so a block whose
// label does not match its content shows up as label != expected format.
func init() { register("describe-key", runDescribeKey) }

type keyDescription struct {
	Label      string `json:"label"`
	Format     string `json:"format"`
	Algorithm  string `json:"algorithm"`
	Bits       int    `json:"bits"`
	Curve      string `json:"curve"`
	SPKISHA256 string `json:"spki_sha256"`
	ParseError string `json:"parse_error"`
	Encrypted  bool   `json:"encrypted"`
}

func runDescribeKey(args []string) error {
	if len(args) != 1 {
		return usageError{"usage: gocheck describe-key FILE"}
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	out := []keyDescription{}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		out = append(out, describeKeyBlock(block))
	}
	if len(out) == 0 {
		return fmt.Errorf("%s: no PEM block", args[0])
	}
	return printJSON(out)
}

func describeKeyBlock(block *pem.Block) keyDescription {
	d := keyDescription{Label: block.Type, Format: "unknown"}
	if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		d.Encrypted = true
		d.ParseError = "encrypted PEM block (Proc-Type: " + block.Headers["Proc-Type"] + ")"
		return d
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		d.Encrypted = true
		d.ParseError = "encrypted PKCS#8 private key"
		return d
	}
	var pub crypto.PublicKey
	switch {
	case block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY"):
		var firstErr error
		if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
			d.Format, pub = "pkcs1", k.Public()
		} else if k, err2 := x509.ParsePKCS8PrivateKey(block.Bytes); err2 == nil {
			d.Format = "pkcs8"
			if s, ok := k.(crypto.Signer); ok {
				pub = s.Public()
			} else {
				d.ParseError = fmt.Sprintf("PKCS#8 key %T has no public key", k)
			}
		} else if k, err3 := x509.ParseECPrivateKey(block.Bytes); err3 == nil {
			d.Format, pub = "sec1", k.Public()
		} else {
			// Report the error of the parser the label asks for.
			switch block.Type {
			case "RSA PRIVATE KEY":
				firstErr = err
			case "EC PRIVATE KEY":
				firstErr = err3
			default:
				firstErr = err2
			}
			d.ParseError = firstErr.Error()
		}
	case block.Type == "PUBLIC KEY" || block.Type == "RSA PUBLIC KEY":
		if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
			d.Format, pub = "pkix-public", k
		} else if k, err2 := x509.ParsePKCS1PublicKey(block.Bytes); err2 == nil {
			d.Format, pub = "pkcs1-public", k
		} else if block.Type == "RSA PUBLIC KEY" {
			d.ParseError = err2.Error()
		} else {
			d.ParseError = err.Error()
		}
	default:
		d.ParseError = "not a key block"
	}
	if pub == nil {
		return d
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		d.Algorithm, d.Bits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		d.Algorithm, d.Bits, d.Curve = "ECDSA", k.Curve.Params().BitSize, k.Curve.Params().Name
	case ed25519.PublicKey:
		d.Algorithm, d.Bits = "Ed25519", 256
	default:
		d.Algorithm = strings.TrimPrefix(fmt.Sprintf("%T", pub), "*")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		if d.ParseError == "" {
			d.ParseError = err.Error()
		}
		return d
	}
	sum := sha256.Sum256(der)
	d.SPKISHA256 = hex.EncodeToString(sum[:])
	return d
}
