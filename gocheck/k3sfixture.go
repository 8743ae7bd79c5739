package main

// k3s-fixture: an independent generator of k3s data dirs, made the way k3s
// itself makes them (pkg/daemons/control/deps/deps.go, pkg/server), with
// optional default-CA rotations applied the way rotate-default-ca-certs.sh,
// `k3s certificate rotate-ca` and the following restart do.
//
// k3s-rotate: the rotation script alone, into a staging tls dir.
//
// k3s-restart: what `k3s certificate rotate-ca --path=P` stores and the next
// server start writes: P/tls's CA bundles, CA keys and service.key over
// server/tls, the leaves re-issued, the tokens rewritten with the new hash.

import (
	"crypto/rand"
	"crypto/rsa"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

func init() {
	register("k3s-fixture", runK3sFixture)
	register("k3s-rotate", runK3sRotate)
	register("k3s-restart", runK3sRestart)
}

// fxRotatable lists the files of P/tls rotate-ca takes (deps.go
// CreateRuntimeCertFiles, the CA and service-account files).
func fxRotatable() []string {
	var names []string
	for _, ca := range fxCAs {
		names = append(names, ca.Stem+".crt", ca.Stem+".key")
	}
	return append(names, "service.key")
}

func runK3sRestart(args []string) error {
	fs := flag.NewFlagSet("k3s-restart", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "DATA_DIR of a k3s-fixture server")
	path := fs.String("path", "", "the staging dir given to rotate-ca --path (reads PATH/tls)")
	product := fs.String("product", "k3s", "k3s or rke2")
	node := fs.String("node-name", "server-1", "node name, as the fixture was made")
	nodeIPFlag := fs.String("node-ip", "10.0.0.10", "node IP, as the fixture was made")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *dataDir == "" || *path == "" || fs.NArg() != 0 {
		return usageError{"usage: gocheck k3s-restart --data-dir DATA_DIR --path STAGING [--product k3s] [--node-name N] [--node-ip IP]"}
	}
	if err := fxCheckProduct(*product); err != nil {
		return err
	}
	nodeIP := net.ParseIP(*nodeIPFlag)
	if nodeIP == nil {
		return usageError{"--node-ip: not an IP address"}
	}
	staged := fxFiles{}
	for _, name := range fxRotatable() {
		data, err := os.ReadFile(filepath.Join(*path, "tls", filepath.FromSlash(name)))
		if err == nil && len(data) > 0 {
			staged["server/tls/"+name] = data
		}
	}
	if err := staged.write(*dataDir); err != nil {
		return err
	}
	now := time.Now()
	srv := fxServer{Product: *product, Node: *node, NodeIP: nodeIP,
		ServiceIP: net.ParseIP("10.43.0.1"), ClusterDomain: "cluster.local"}
	if err := fxIssueAll(*dataDir, srv, now); err != nil {
		return err
	}
	var creds [2]string
	for i, file := range []string{"token", "agent-token"} {
		data, err := os.ReadFile(filepath.Join(*dataDir, "server", file))
		if err != nil {
			return err
		}
		creds[i] = fxTokenCreds(data)
	}
	hash, err := fxWriteTokens(*dataDir, creds[0], creds[1], now)
	if err != nil {
		return err
	}
	return printJSON(map[string]interface{}{"staged": len(staged), "server_ca_hash": hash})
}

// fxDirHasFiles reports whether dir exists and holds anything.
func fxDirHasFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) > 0
}

func runK3sFixture(args []string) error {
	fs := flag.NewFlagSet("k3s-fixture", flag.ContinueOnError)
	out := fs.String("out", "", "data dir to create (DATA_DIR); must not hold a server/ dir yet")
	nowFlag := fs.String("now", "", "the time k3s first starts, RFC 3339; rotation i happens at now + i s (default: the current time minus N s)")
	rotations := fs.Int("rotations", 0, "default-CA rotations to apply after the first start")
	product := fs.String("product", "k3s", "k3s or rke2 (CN and file-name prefix)")
	node := fs.String("node-name", "server-1", "node name (kubelet certificates, SANs)")
	nodeIPFlag := fs.String("node-ip", "10.0.0.10", "node IP (kubelet certificates, SANs)")
	kubeconfig := fs.String("write-kubeconfig", "", "where to write the admin kubeconfig k3s writes to /etc/rancher/<product>/<product>.yaml (default: DATA_DIR/<product>.yaml)")
	agentOnly := fs.Bool("agent-only", false, "leave an agent node: agent/ only (no server/, no kubeconfig)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *out == "" || fs.NArg() != 0 {
		return usageError{"usage: gocheck k3s-fixture --out DATA_DIR [--now RFC3339] [--rotations N] [--product k3s] [--node-name N] [--node-ip IP] [--write-kubeconfig FILE] [--agent-only]"}
	}
	if *rotations < 0 {
		return usageError{"--rotations must be >= 0"}
	}
	if err := fxCheckProduct(*product); err != nil {
		return err
	}
	nodeIP := net.ParseIP(*nodeIPFlag)
	if nodeIP == nil {
		return usageError{"--node-ip: not an IP address"}
	}
	now, err := fxParseNow(*nowFlag)
	if err != nil {
		return err
	}
	if *nowFlag == "" {
		// rotation i happens at now + i seconds; without --now, end at the
		// current time so that nothing is dated in the future
		now = now.Add(-time.Duration(*rotations) * time.Second)
	}
	if *kubeconfig == "" {
		*kubeconfig = filepath.Join(*out, *product+".yaml")
	}
	if fxDirHasFiles(filepath.Join(*out, "server")) {
		return usageError{filepath.Join(*out, "server") + " already exists; give a new --out"}
	}

	// First start: five self-signed CAs (deps.go createSigningCertKey),
	// service.key (genServiceAccount: RSA-2048 PKCS#1), then the leaves.
	ts := now.Unix()
	files := fxFiles{}
	for _, ca := range fxCAs {
		key, err := fxNewP256()
		if err != nil {
			return err
		}
		cert, err := fxSelfSignedCA(fxDefaultCN(ca, *product, ts), key, now)
		if err != nil {
			return err
		}
		files["server/tls/"+ca.Stem+".crt"] = fxCertPEM(cert)
		files["server/tls/"+ca.Stem+".key"] = fxKeyPEM(key)
	}
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	files["server/tls/service.key"] = fxKeyPEM(sa)
	if err := files.write(*out); err != nil {
		return err
	}
	srv := fxServer{Product: *product, Node: *node, NodeIP: nodeIP,
		ServiceIP: net.ParseIP("10.43.0.1"), ClusterDomain: "cluster.local"}
	if err := fxIssueAll(*out, srv, now); err != nil {
		return err
	}
	// genUsers: a random 16-byte hex password; without --agent-token the
	// node password is the server password (deps.go getNodePass).
	pass, err := fxRandomHex(16)
	if err != nil {
		return err
	}
	serverCreds, agentCreds := "server:"+pass, "node:"+pass
	hash, err := fxWriteTokens(*out, serverCreds, agentCreds, now)
	if err != nil {
		return err
	}
	hashes := []string{hash}

	// Rotations: the script builds a staging dir, rotate-ca stores it, the
	// restart writes it into server/tls, re-issues the leaves (their AKI no
	// longer matches) and rewrites the tokens with the new CA hash.
	tlsDir := filepath.Join(*out, "server", "tls")
	for i := 1; i <= *rotations; i++ {
		t := now.Add(time.Duration(i) * time.Second)
		staged, err := fxRotate(tlsDir, *product, t)
		if err != nil {
			return fmt.Errorf("rotation %d: %v", i, err)
		}
		if err := staged.write(tlsDir); err != nil {
			return err
		}
		if err := fxIssueAll(*out, srv, t); err != nil {
			return fmt.Errorf("rotation %d: %v", i, err)
		}
		h, err := fxWriteTokens(*out, serverCreds, agentCreds, t)
		if err != nil {
			return err
		}
		hashes = append(hashes, h)
	}
	if *agentOnly {
		// An agent holds what the server handed it; the server's files stay
		// on the server (k3s cert.go: no <data-dir>/server means an agent).
		if err := os.RemoveAll(filepath.Join(*out, "server")); err != nil {
			return err
		}
	} else if err := fxWriteKubeconfig(*out, *kubeconfig); err != nil {
		return err
	}
	return printJSON(map[string]interface{}{
		"data_dir":       *out,
		"product":        *product,
		"now":            now.UTC().Format(time.RFC3339),
		"rotations":      *rotations,
		"server_ca_hash": hashes[len(hashes)-1],
		"hash_history":   hashes,
	})
}

func runK3sRotate(args []string) error {
	fs := flag.NewFlagSet("k3s-rotate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "current DATA_DIR (reads DATA_DIR/server/tls and the token files)")
	out := fs.String("out", "", "staging tls dir to write (what rotate-ca reads as P/tls)")
	nowFlag := fs.String("now", "", "rotation time, RFC 3339 (default: now)")
	product := fs.String("product", "k3s", "k3s or rke2 (CN prefix)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *dataDir == "" || *out == "" || fs.NArg() != 0 {
		return usageError{"usage: gocheck k3s-rotate --data-dir DATA_DIR --out STAGING_TLS_DIR [--now RFC3339] [--product k3s]"}
	}
	if err := fxCheckProduct(*product); err != nil {
		return err
	}
	now, err := fxParseNow(*nowFlag)
	if err != nil {
		return err
	}
	staged, err := fxRotate(filepath.Join(*dataDir, "server", "tls"), *product, now)
	if err != nil {
		return err
	}
	for name := range staged {
		if _, err := os.Stat(filepath.Join(*out, filepath.FromSlash(name))); err == nil {
			return usageError{filepath.Join(*out, name) + " already exists; give an empty --out"}
		}
	}
	if err := staged.write(*out); err != nil {
		return err
	}
	hash, err := fxHashCA(staged["server-ca.crt"], now)
	if err != nil {
		return err
	}
	result := map[string]interface{}{"out": *out, "server_ca_hash": hash}
	for _, tok := range []struct{ file, field string }{{"token", "server_token"}, {"agent-token", "agent_token"}} {
		if data, err := os.ReadFile(filepath.Join(*dataDir, "server", tok.file)); err == nil {
			if creds := fxTokenCreds(data); creds != "" {
				result[tok.field] = "K10" + hash + "::" + creds
			}
		}
	}
	return printJSON(result)
}
