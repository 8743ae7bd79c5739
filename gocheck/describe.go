package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"time"
)

// describe prints the fields of every certificate of a PEM file as Go's
// crypto/x509 parses them.
func init() { register("describe", runDescribe) }

type certExtension struct {
	OID      string `json:"oid"`
	Critical bool   `json:"critical"`
}

type certDescription struct {
	SubjectCN                string          `json:"subject_cn"`
	Subject                  string          `json:"subject"`
	IssuerCN                 string          `json:"issuer_cn"`
	Issuer                   string          `json:"issuer"`
	Serial                   string          `json:"serial"`
	Version                  int             `json:"version"`
	NotBefore                string          `json:"not_before"`
	NotAfter                 string          `json:"not_after"`
	ValidityDays             float64         `json:"validity_days"`
	IsCA                     bool            `json:"is_ca"`
	BasicConstraintsValid    bool            `json:"basic_constraints_valid"`
	BasicConstraintsCritical bool            `json:"basic_constraints_critical"`
	MaxPathLen               int             `json:"max_path_len"`
	MaxPathLenZero           bool            `json:"max_path_len_zero"`
	KeyUsage                 []string        `json:"key_usage"`
	KeyUsageCritical         bool            `json:"key_usage_critical"`
	ExtKeyUsage              []interface{}   `json:"ext_key_usage"`
	SKI                      string          `json:"ski"`
	AKI                      string          `json:"aki"`
	PublicKeyAlgorithm       string          `json:"public_key_algorithm"`
	PublicKeyBits            int             `json:"public_key_bits"`
	Curve                    string          `json:"curve"`
	SignatureAlgorithm       string          `json:"signature_algorithm"`
	Extensions               []certExtension `json:"extensions"`
	DNSNames                 []string        `json:"dns_names"`
	IPAddresses              []string        `json:"ip_addresses"`
	SHA256                   string          `json:"sha256"`
	SPKISHA256               string          `json:"spki_sha256"`
	KeySHA1                  string          `json:"key_sha1"`
	SelfSigned               bool            `json:"self_signed"`
}

// keyUsageNames lists the KeyUsage bits in order, as RFC 5280 names them.
var keyUsageNames = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

func runDescribe(args []string) error {
	if len(args) != 1 {
		return usageError{"usage: gocheck describe FILE"}
	}
	certs, err := readCerts(args[0])
	if err != nil {
		return err
	}
	out := make([]certDescription, 0, len(certs))
	for _, c := range certs {
		out = append(out, describeCert(c))
	}
	return printJSON(out)
}

func describeCert(c *x509.Certificate) certDescription {
	d := certDescription{
		SubjectCN:             c.Subject.CommonName,
		Subject:               c.Subject.String(),
		IssuerCN:              c.Issuer.CommonName,
		Issuer:                c.Issuer.String(),
		Serial:                c.SerialNumber.String(),
		Version:               c.Version,
		NotBefore:             c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:              c.NotAfter.UTC().Format(time.RFC3339),
		ValidityDays:          c.NotAfter.Sub(c.NotBefore).Hours() / 24,
		IsCA:                  c.IsCA,
		BasicConstraintsValid: c.BasicConstraintsValid,
		MaxPathLen:            c.MaxPathLen,
		MaxPathLenZero:        c.MaxPathLenZero,
		KeyUsage:              []string{},
		ExtKeyUsage:           []interface{}{},
		SKI:                   hex.EncodeToString(c.SubjectKeyId),
		AKI:                   hex.EncodeToString(c.AuthorityKeyId),
		PublicKeyAlgorithm:    c.PublicKeyAlgorithm.String(),
		SignatureAlgorithm:    c.SignatureAlgorithm.String(),
		Extensions:            []certExtension{},
		DNSNames:              []string{},
		IPAddresses:           []string{},
	}
	for _, ku := range keyUsageNames {
		if c.KeyUsage&ku.bit != 0 {
			d.KeyUsage = append(d.KeyUsage, ku.name)
		}
	}
	for _, eku := range c.ExtKeyUsage {
		switch eku {
		case x509.ExtKeyUsageServerAuth:
			d.ExtKeyUsage = append(d.ExtKeyUsage, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			d.ExtKeyUsage = append(d.ExtKeyUsage, "clientAuth")
		case x509.ExtKeyUsageAny:
			d.ExtKeyUsage = append(d.ExtKeyUsage, "any")
		default:
			d.ExtKeyUsage = append(d.ExtKeyUsage, int(eku))
		}
	}
	for _, e := range c.Extensions {
		oid := e.Id.String()
		d.Extensions = append(d.Extensions, certExtension{OID: oid, Critical: e.Critical})
		switch oid {
		case "2.5.29.19":
			d.BasicConstraintsCritical = e.Critical
		case "2.5.29.15":
			d.KeyUsageCritical = e.Critical
		}
	}
	switch pub := c.PublicKey.(type) {
	case *rsa.PublicKey:
		d.PublicKeyBits = pub.N.BitLen()
	case *ecdsa.PublicKey:
		d.PublicKeyBits = pub.Curve.Params().BitSize
		d.Curve = pub.Curve.Params().Name
	}
	d.DNSNames = append(d.DNSNames, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		d.IPAddresses = append(d.IPAddresses, ip.String())
	}
	sum := sha256.Sum256(c.Raw)
	d.SHA256 = hex.EncodeToString(sum[:])
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	d.SPKISHA256 = hex.EncodeToString(spki[:])
	keySHA1 := sha1.Sum(subjectPublicKeyBits(c.RawSubjectPublicKeyInfo))
	d.KeySHA1 = hex.EncodeToString(keySHA1[:])
	d.SelfSigned = bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
	return d
}

// subjectPublicKeyBits returns the contents of the SPKI's BIT STRING: what
// OpenSSL's "subjectKeyIdentifier = hash" (RFC 5280 method 1) hashes with SHA-1.
func subjectPublicKeyBits(rawSPKI []byte) []byte {
	var spki struct {
		Algorithm asn1.RawValue
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(rawSPKI, &spki); err != nil {
		return nil
	}
	return spki.Key.Bytes
}
