package main

// sa-keys, jwt-sign, jwt-verify: service-account key files as Kubernetes
// reads them (see keyutil.go). kube-apiserver verifies tokens with every
// key keyutil.ParsePublicKeysPEM finds in --service-account-key-file
// (service.key) and signs with the key keyutil.ParsePrivateKeyPEM finds
// first (k3s writes it to service.current.key).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"math/big"
	"os"
	"strings"
	"time"
)

func init() {
	register("sa-keys", runSAKeys)
	register("jwt-sign", runJWTSign)
	register("jwt-verify", runJWTVerify)
}

type saKeyInfo struct {
	Index      int    `json:"index"`
	Label      string `json:"label"`
	Algorithm  string `json:"algorithm"`
	Bits       int    `json:"bits"`
	SPKISHA256 string `json:"spki_sha256"`
}

func runSAKeys(args []string) error {
	fs := flag.NewFlagSet("sa-keys", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		return usageError{"usage: gocheck sa-keys FILE"}
	}
	keys, err := kuPublicKeysFromFile(fs.Arg(0))
	if err != nil {
		return err
	}
	out := make([]saKeyInfo, len(keys))
	for i, k := range keys {
		alg, bits, spki := kuDescribe(k.Pub)
		out[i] = saKeyInfo{i, k.Label, alg, bits, spki}
	}
	return printJSON(out)
}

// jwtAlg picks the JWS algorithm for a key: RS256 for RSA, ES256/384/512 by curve.
func jwtAlg(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	}
	return "", fmt.Errorf("no JWS algorithm for a %T", pub)
}

func jwtHash(alg string) (crypto.Hash, func() hash.Hash) {
	switch alg[2:] {
	case "384":
		return crypto.SHA384, sha512.New384
	case "512":
		return crypto.SHA512, sha512.New
	}
	return crypto.SHA256, sha256.New
}

var jwtB64 = base64.RawURLEncoding

func runJWTSign(args []string) error {
	fs := flag.NewFlagSet("jwt-sign", flag.ContinueOnError)
	keyFile := fs.String("key", "", "PEM file; its first private key (keyutil.ParsePrivateKeyPEM) signs")
	kid := fs.String("kid", "", "key ID for the JWS header (default: none)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *keyFile == "" || fs.NArg() != 0 {
		return usageError{"usage: gocheck jwt-sign --key FILE [--kid X]"}
	}
	data, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	keyAny, _, err := kuParsePrivateKey(data)
	if err != nil {
		return fmt.Errorf("%s: %v", *keyFile, err)
	}
	signer, ok := keyAny.(crypto.Signer)
	if !ok {
		return fmt.Errorf("%s: first private key is a %T", *keyFile, keyAny)
	}
	alg, err := jwtAlg(signer.Public())
	if err != nil {
		return err
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if *kid != "" {
		header["kid"] = *kid
	}
	claims := map[string]interface{}{
		"iss": "https://kubernetes.default.svc.cluster.local",
		"sub": "system:serviceaccount:default:test",
		"exp": time.Now().Add(time.Hour).Unix(),
	}
	hj, _ := json.Marshal(header)
	cj, _ := json.Marshal(claims)
	input := jwtB64.EncodeToString(hj) + "." + jwtB64.EncodeToString(cj)
	ch, newHash := jwtHash(alg)
	h := newHash()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	var sig []byte
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, ch, digest)
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k, digest)
		if err == nil {
			size := (k.Curve.Params().BitSize + 7) / 8
			sig = make([]byte, 2*size)
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
		}
	}
	if err != nil {
		return err
	}
	fmt.Println(input + "." + jwtB64.EncodeToString(sig))
	return nil
}

// jwtVerifyWith checks a JWS signature with one public key.
func jwtVerifyWith(alg string, pub crypto.PublicKey, input, sig []byte) bool {
	ch, newHash := jwtHash(alg)
	h := newHash()
	h.Write(input)
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") && rsa.VerifyPKCS1v15(k, ch, digest, sig) == nil
	case *ecdsa.PublicKey:
		want, err := jwtAlg(k)
		if err != nil || want != alg {
			return false
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

func runJWTVerify(args []string) error {
	fs := flag.NewFlagSet("jwt-verify", flag.ContinueOnError)
	keyFile := fs.String("keys", "", "PEM file; every public key keyutil.ParsePublicKeysPEM finds is tried")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *keyFile == "" || fs.NArg() != 1 {
		return usageError{"usage: gocheck jwt-verify --keys FILE TOKEN"}
	}
	parts := strings.Split(strings.TrimSpace(fs.Arg(0)), ".")
	if len(parts) != 3 {
		return errors.New("token is not a compact JWS (three dot-separated parts)")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Exp *int64 `json:"exp"`
	}
	hj, err := jwtB64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hj, &header) != nil {
		return errors.New("token header is not base64url JSON")
	}
	cj, err := jwtB64.DecodeString(parts[1])
	if err != nil || json.Unmarshal(cj, &claims) != nil {
		return errors.New("token claims are not base64url JSON")
	}
	sig, err := jwtB64.DecodeString(parts[2])
	if err != nil {
		return errors.New("token signature is not base64url")
	}
	switch header.Alg {
	case "RS256", "RS384", "RS512", "ES256", "ES384", "ES512":
	default:
		return fmt.Errorf("unsupported token algorithm %q", header.Alg)
	}
	keys, err := kuPublicKeysFromFile(*keyFile)
	if err != nil {
		return err
	}
	input := []byte(parts[0] + "." + parts[1])
	for i, k := range keys {
		if !jwtVerifyWith(header.Alg, k.Pub, input, sig) {
			continue
		}
		if claims.Exp != nil && time.Now().Unix() >= *claims.Exp {
			return fmt.Errorf("signature verifies with key #%d, but the token expired at %s", i, time.Unix(*claims.Exp, 0).UTC().Format(time.RFC3339))
		}
		return printJSON(map[string]interface{}{"ok": true, "key_index": i})
	}
	return fmt.Errorf("no key of %s (%d key(s)) verifies the %s signature", *keyFile, len(keys), header.Alg)
}
