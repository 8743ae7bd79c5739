package main

// rotate-check: the validation `k3s certificate rotate-ca --path=P` applies
// before it stores new CA data (k3s pkg/server/handlers/cert.go:
// caCertReplace -> defaultBootstrap -> validateBootstrap -> validateCA,
// validateCAKey, validateServiceKey; the CLI side, pkg/cli/cert, reads the
// files of P/tls laid out as deps.CreateRuntimeCertFiles names them).
//
// What k3s does, and so what this does:
//   - defaultBootstrap, per file: a staged file that does not exist or is
//     empty is replaced by the current one ("reused"). Every file is decided
//     on its own, so X-ca.crt and X-ca.key can be reused independently.
//   - validateCA(X-ca.crt) is skipped when the crt is reused. Otherwise: the
//     current and new bundles must parse (cert.ParseCertsPEM), the new one
//     must hold more than one certificate, and its first certificate must
//     verify (crypto/x509, default options: wall-clock time and
//     ExtKeyUsageServerAuth) with roots = current-bundle certs with no AKI
//     or AKI == SKI, intermediates = the other current certs plus every
//     new-bundle cert after the first that has an AKI (so a new-bundle
//     self-signed root with AKI == SKI is only an intermediate, and new
//     certs without AKI are ignored).
//   - validateCAKey is skipped only when BOTH crt and key are reused.
//     Otherwise tls.LoadX509KeyPair(new-or-current crt, new-or-current key)
//     must succeed: a staged crt with no staged key is paired with the
//     CURRENT key (and normally fails), a staged key with no staged crt must
//     match the CURRENT certificate.
//   - validateServiceKey always runs (a reused service.key is checked against
//     itself and passes if it parses): keyutil.PublicKeysFromFile on both
//     files, and the current file's first public key must be
//     reflect.DeepEqual to one of the new file's keys.
// Differences from the contract summary: none in substance; the contract
// does not spell out the crt/key pairing above, that service.key is checked
// even when reused, or that keyutil also takes the public key of a
// CERTIFICATE block in service.key.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

func init() { register("rotate-check", runRotateCheck) }

type rcResult struct {
	File   string `json:"file"`
	Status string `json:"status"` // reused | ok | fail
	Reason string `json:"reason"`
}

// rcPick is defaultBootstrap for one file: it returns the path k3s would use
// and whether the staged file is used.
func rcPick(current, staged string) (path string, isStaged bool, why string, err error) {
	info, err := os.Stat(staged)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return current, false, "not staged: the current file is kept", nil
		}
		return staged, true, "", err
	}
	if info.Size() == 0 {
		return current, false, "staged file is empty: the current file is kept", nil
	}
	return staged, true, "", nil
}

func rcName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", c.Subject.String())
}

func rcNames(certs []*x509.Certificate) string {
	if len(certs) == 0 {
		return "none"
	}
	names := make([]string, len(certs))
	for i, c := range certs {
		names[i] = rcName(c)
	}
	return strings.Join(names, ", ")
}

// rcValidateCA is validateCA for a staged bundle.
func rcValidateCA(name, oldPath, newPath string, now time.Time) (string, error) {
	oldCerts, err := kuCertsFromFile(oldPath)
	if err != nil {
		return "", fmt.Errorf("current %s cannot be read: %v", name, err)
	}
	newCerts, err := kuCertsFromFile(newPath)
	if err != nil {
		return "", fmt.Errorf("staged %s cannot be read: %v", name, err)
	}
	if len(newCerts) == 1 {
		return "", fmt.Errorf("staged %s holds a single certificate (%s); k3s requires the new bundle to include the root or intermediate certificates it chains to", name, rcName(newCerts[0]))
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	var rootList, interList []*x509.Certificate
	for _, c := range oldCerts {
		if len(c.AuthorityKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			roots.AddCert(c)
			rootList = append(rootList, c)
		} else {
			inter.AddCert(c)
			interList = append(interList, c)
		}
	}
	for _, c := range newCerts[1:] {
		if len(c.AuthorityKeyId) > 0 {
			inter.AddCert(c)
			interList = append(interList, c)
		}
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter}
	if !now.IsZero() {
		opts.CurrentTime = now
	}
	chains, err := newCerts[0].Verify(opts)
	if err != nil {
		return "", fmt.Errorf("new CA cert cannot be verified using old CA chain: the first certificate of the staged %s, %s (issuer %q), does not chain to a root of the current %s (roots: %s; intermediates tried: %s): %v",
			name, rcName(newCerts[0]), newCerts[0].Issuer.CommonName, name, rcNames(rootList), rcNames(interList), err)
	}
	return fmt.Sprintf("%s chains to the current root %s via [%s]", rcName(newCerts[0]), rcName(chains[0][len(chains[0])-1]), rcNames(chains[0])), nil
}

// rcValidateCAKey is validateCAKey.
func rcValidateCAKey(crtName, keyName, crtPath, keyPath string, crtStaged, keyStaged bool) (string, error) {
	_, err := tls.LoadX509KeyPair(crtPath, keyPath)
	which := "the staged " + crtName + " and the staged " + keyName
	switch {
	case crtStaged && !keyStaged:
		which = "the staged " + crtName + " and the CURRENT " + keyName + " (" + keyName + " is not staged, so k3s pairs the new certificate with the current key)"
	case !crtStaged && keyStaged:
		which = "the CURRENT " + crtName + " and the staged " + keyName + " (" + crtName + " is not staged, so k3s pairs the new key with the current certificate)"
	}
	if err != nil {
		detail := err.Error()
		if strings.Contains(detail, "does not match") {
			detail = "the first private key of " + keyName + " does not belong to the first certificate of " + crtName + " (" + detail + ")"
		}
		return "", fmt.Errorf("new CA cert and key cannot be loaded as a key pair: %s: %s", which, detail)
	}
	return "the first private key matches the first certificate: " + which, nil
}

// rcValidateServiceKey is validateServiceKey.
func rcValidateServiceKey(oldPath, newPath string, staged bool) (string, error) {
	oldKeys, err := kuPublicKeysFromFile(oldPath)
	if err != nil {
		return "", fmt.Errorf("current service.key: %v", err)
	}
	newKeys, err := kuPublicKeysFromFile(newPath)
	if err != nil {
		return "", fmt.Errorf("staged service.key: %v", err)
	}
	for i, k := range newKeys {
		if reflect.DeepEqual(oldKeys[0].Pub, k.Pub) {
			if !staged {
				return "", nil
			}
			return fmt.Sprintf("the current signing key (%s) is key #%d of %d in the staged service.key", kuKeyWords(oldKeys[0].Pub), i+1, len(newKeys)), nil
		}
	}
	return "", fmt.Errorf("old ServiceAccount signing key not in new ServiceAccount key list: the staged service.key (%d key(s)) does not hold the current signing key, the first key of the current service.key (%s); tokens signed with it would stop validating", len(newKeys), kuKeyWords(oldKeys[0].Pub))
}

func runRotateCheck(args []string) error {
	flags := flag.NewFlagSet("rotate-check", flag.ContinueOnError)
	current := flags.String("current", "", "the live server/tls dir")
	staged := flags.String("staged", "", "the staged dir (P/tls for rotate-ca --path=P)")
	nowFlag := flags.String("now", "", "verification time, RFC 3339 (default: the wall clock, as k3s)")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *current == "" || *staged == "" || flags.NArg() != 0 {
		return usageError{"usage: gocheck rotate-check --current TLSDIR --staged TLSDIR [--now RFC3339]"}
	}
	for _, d := range []string{*current, *staged} {
		if info, err := os.Stat(d); err != nil || !info.IsDir() {
			return usageError{d + ": not a directory"}
		}
	}
	var now time.Time
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return usageError{"--now: " + err.Error()}
		}
		now = t
	}

	var results []rcResult
	add := func(file, status, reason string) {
		results = append(results, rcResult{file, status, reason})
	}
	for _, stem := range []string{"client-ca", "server-ca", "request-header-ca", "etcd/peer-ca", "etcd/server-ca"} {
		crtName, keyName := stem+".crt", stem+".key"
		curCrt := filepath.Join(*current, filepath.FromSlash(crtName))
		curKey := filepath.Join(*current, filepath.FromSlash(keyName))
		crtPath, crtStaged, crtWhy, crtErr := rcPick(curCrt, filepath.Join(*staged, filepath.FromSlash(crtName)))
		keyPath, keyStaged, keyWhy, keyErr := rcPick(curKey, filepath.Join(*staged, filepath.FromSlash(keyName)))

		switch {
		case crtErr != nil:
			add(crtName, "fail", crtErr.Error())
		case !crtStaged:
			add(crtName, "reused", crtWhy)
		default:
			if why, err := rcValidateCA(crtName, curCrt, crtPath, now); err != nil {
				add(crtName, "fail", err.Error())
			} else {
				add(crtName, "ok", why)
			}
		}

		switch {
		case keyErr != nil:
			add(keyName, "fail", keyErr.Error())
		case crtErr != nil:
			add(keyName, "fail", "not checked: "+crtName+" cannot be read")
		case !crtStaged && !keyStaged:
			add(keyName, "reused", keyWhy)
		default:
			if why, err := rcValidateCAKey(crtName, keyName, crtPath, keyPath, crtStaged, keyStaged); err != nil {
				add(keyName, "fail", err.Error())
			} else {
				add(keyName, "ok", why)
			}
		}
	}

	curSA := filepath.Join(*current, "service.key")
	saPath, saStaged, saWhy, saErr := rcPick(curSA, filepath.Join(*staged, "service.key"))
	if saErr != nil {
		add("service.key", "fail", saErr.Error())
	} else if why, err := rcValidateServiceKey(curSA, saPath, saStaged); err != nil {
		add("service.key", "fail", err.Error())
	} else if !saStaged {
		add("service.key", "reused", saWhy)
	} else {
		add("service.key", "ok", why)
	}

	staged0 := 0
	for _, r := range results {
		if r.Status != "reused" {
			staged0++
		}
	}
	if staged0 == 0 {
		fmt.Fprintf(os.Stderr, "gocheck rotate-check: note: nothing is staged in %s; rotate-ca --path=P reads P/tls/ (files placed directly in P are a common mistake)\n", *staged)
	}

	ok := true
	var failed []string
	for _, r := range results {
		if r.Status == "fail" {
			ok = false
			failed = append(failed, r.File)
		}
	}
	if err := printJSON(struct {
		Files []rcResult `json:"files"`
		OK    bool       `json:"ok"`
	}{results, ok}); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("k3s certificate rotate-ca would refuse the staged files: %s", strings.Join(failed, ", "))
	}
	return nil
}
