package main

import (
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"time"
)

// k3s-leaves issues, in memory, every certificate k3s issues from the five
// CAs of a tls dir (fxLeafSpecs, fxSupervisorSpec) and verifies each as a
// client that trusts only the given roots: the organisation's workstations
// and tools, and rotate-ca itself. Limits in an enterprise chain (path
// length, name constraints, EKU) show only there, since inside the cluster
// every certificate of a CA bundle is a trust anchor.
func init() { register("k3s-leaves", runK3sLeaves) }

type leafResult struct {
	CA    string `json:"ca"`
	Leaf  string `json:"leaf"`
	Usage string `json:"usage"` // "server" or "client": the usage the consumer checks
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func runK3sLeaves(args []string) error {
	fs := flag.NewFlagSet("k3s-leaves", flag.ContinueOnError)
	tlsDir := fs.String("tls", "", "tls dir holding the five CAs (required)")
	var roots, tlsSANs stringsFlag
	fs.Var(&roots, "roots", "PEM file of the only trusted roots (repeatable, required)")
	fs.Var(&tlsSANs, "tls-san", "extra SAN of the serving certificates, as k3s --tls-san (repeatable)")
	domain := fs.String("cluster-domain", "cluster.local", "cluster domain")
	serviceIP := fs.String("service-ip", "10.43.0.1", "first IP of the service CIDR")
	node := fs.String("node-name", "server-1", "node name")
	nodeIP := fs.String("node-ip", "10.0.0.10", "node IP")
	at := fs.String("at", "", "issue and verify at this time, RFC3339 (default now)")
	pos, err := parseFlagsAnyOrder(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *tlsDir == "" || len(roots) == 0 {
		return usageError{"usage: gocheck k3s-leaves --tls DIR --roots FILE [--tls-san NAME]... [--cluster-domain D] [--service-ip IP] [--node-name N] [--node-ip IP] [--at RFC3339]"}
	}
	srv := fxServer{Product: "k3s", Node: *node, ClusterDomain: *domain, TLSSANs: tlsSANs}
	if srv.NodeIP = net.ParseIP(*nodeIP); srv.NodeIP == nil {
		return usageError{"--node-ip: not an IP address"}
	}
	if srv.ServiceIP = net.ParseIP(*serviceIP); srv.ServiceIP == nil {
		return usageError{"--service-ip: not an IP address"}
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			return usageError{"--at: " + err.Error()}
		}
	}
	rootPool, err := poolFromFiles(roots)
	if err != nil {
		return err
	}

	results := []leafResult{}
	var failed []leafResult
	specs := append(fxLeafSpecs(srv), fxSupervisorSpec(srv))
	for _, ca := range fxCAs {
		caCerts, caKey, caErr := fxLoadCA(*tlsDir, ca.Stem)
		if caErr == nil && !fxSamePublic(caKey.Public(), caCerts[0].PublicKey) {
			caErr = fmt.Errorf("%s.key: the first private key does not belong to the first certificate of %s.crt", ca.Stem, ca.Stem)
		}
		for _, spec := range specs {
			if spec.CA != ca.Stem {
				continue
			}
			var leaf *x509.Certificate
			err := caErr
			if err == nil {
				leaf, _, err = fxSignLeaf(caCerts, caKey, spec, now)
			}
			for _, usage := range spec.Usage {
				r := leafResult{CA: ca.Stem, Leaf: spec.Stem, Usage: usageName(usage)}
				verr := err
				if verr == nil {
					verr = verifyLeaf(leaf, caCerts, rootPool, usage, now)
				}
				if r.OK = verr == nil; !r.OK {
					r.Error = verr.Error()
					failed = append(failed, r)
				}
				results = append(results, r)
			}
		}
	}
	if err := printJSON(results); err != nil {
		return err
	}
	if len(failed) > 0 {
		f := failed[0]
		return fmt.Errorf("%d of %d verifications failed; first: %s %s (%s): %s",
			len(failed), len(results), f.CA, f.Leaf, f.Usage, f.Error)
	}
	return nil
}

// verifyLeaf verifies leaf for one usage with roots as the only anchors and
// every certificate of the CA bundle (the CA included) as intermediates.
func verifyLeaf(leaf *x509.Certificate, bundle []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) error {
	inters := x509.NewCertPool()
	for _, c := range bundle {
		inters.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inters,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
	return err
}

func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "server"
	case x509.ExtKeyUsageClientAuth:
		return "client"
	}
	panic("k3s-leaves: k3s issues server and client certificates only")
}
