package main

// Shared code of k3s-fixture and k3s-rotate: k3s's own certificate making
// (pkg/daemons/control/deps/deps.go with rancher/dynamiclistener/cert), the
// default-CA rotation of contrib/util/rotate-default-ca-certs.sh, and k3s's
// join-token CA hash (pkg/clientaccess/token.go hashCA).

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const fxDay = 24 * time.Hour

// fxCA is one of the five CAs k3s keeps in server/tls.
type fxCA struct {
	Stem string // file stem under server/tls: "client-ca", "etcd/peer-ca"
	Type string // the rotation script's TYPE: "client", "etcd/peer"
}

// fxCAs lists the CAs in the order k3s creates them (deps.go genCerts).
var fxCAs = []fxCA{
	{"client-ca", "client"},
	{"server-ca", "server"},
	{"request-header-ca", "request-header"},
	{"etcd/server-ca", "etcd/server"},
	{"etcd/peer-ca", "etcd/peer"},
}

// fxDefaultCN is the CN k3s gives a self-signed CA: createSigningCertKey uses
// prefix + "-ca@" + unix time, the prefix being version.Program + "-client",
// "-server", "-request-header", and plain "etcd-server" / "etcd-peer".
func fxDefaultCN(ca fxCA, product string, ts int64) string {
	prefix := product + "-" + ca.Type
	if strings.HasPrefix(ca.Type, "etcd/") {
		prefix = strings.Replace(ca.Type, "/", "-", 1)
	}
	return fmt.Sprintf("%s-ca@%d", prefix, ts)
}

// fxFiles is a set of files to write: relative path -> contents. Paths ending
// in .key are written 0600, the others 0644.
type fxFiles map[string][]byte

func (f fxFiles) write(root string) error {
	names := make([]string, 0, len(f))
	for name := range f {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".key") || strings.HasSuffix(name, "token") {
			mode = 0o600
		}
		if err := os.WriteFile(path, f[name], mode); err != nil {
			return err
		}
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
	}
	return nil
}

func fxCertPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// fxKeyPEM encodes a key the way k3s and OpenSSL's traditional output do:
// SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY".
func fxKeyPEM(key crypto.Signer) []byte {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			panic(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	}
	panic(fmt.Sprintf("fxKeyPEM: unsupported key %T", key))
}

func fxNewP256() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// fxSKI is OpenSSL's "subjectKeyIdentifier = hash": SHA-1 of the
// subjectPublicKey BIT STRING contents.
func fxSKI(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// fxSerial is a random positive serial of at most 16 octets.
func fxSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

func fxCreate(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// fxSelfSignedCA is dynamiclistener's cert.NewSelfSignedCACert as k3s calls
// it: serial 0, subject CN only, NotBefore now, NotAfter now + 10*365 days,
// keyUsage keyEncipherment|digitalSignature|keyCertSign, CA:TRUE; Go adds the
// SKI and, the certificate being self-signed, no AKI.
func fxSelfSignedCA(cn string, key crypto.Signer, now time.Time) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.UTC(),
		NotAfter:              now.Add(3650 * fxDay).UTC(),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return fxCreate(tmpl, tmpl, key.Public(), key)
}

// fxLeafSpec is one certificate k3s issues under one of its CAs.
type fxLeafSpec struct {
	CA    string // CA stem under server/tls
	Dir   string // "server/tls" or "agent"
	Stem  string // file stem within Dir
	CN    string
	Org   []string
	Usage []x509.ExtKeyUsage
	DNS   []string
	IPs   []net.IP
}

// fxLoadCA reads a CA the way k3s does before issuing under it
// (certutil.CertsFromFile, keyutil.PrivateKeyFromFile): every certificate of
// X.crt, and the first private key of X.key that parses.
func fxLoadCA(tlsDir, stem string) ([]*x509.Certificate, crypto.Signer, error) {
	caCerts, err := kuCertsFromFile(filepath.Join(tlsDir, stem+".crt"))
	if err != nil {
		return nil, nil, err
	}
	caKeyData, err := os.ReadFile(filepath.Join(tlsDir, stem+".key"))
	if err != nil {
		return nil, nil, err
	}
	caKeyAny, _, err := kuParsePrivateKey(caKeyData)
	if err != nil {
		return nil, nil, fmt.Errorf("%s.key: %v", stem, err)
	}
	caKey, ok := caKeyAny.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s.key: not a signing key", stem)
	}
	return caCerts, caKey, nil
}

// fxSignLeaf is dynamiclistener's cert.NewSignedCert as k3s uses it
// (deps.go createClientCertKey, handlers.go signAndSend): random serial below
// 2^63-1, NotBefore = the CA's NotBefore, NotAfter = now + 365 days, keyUsage
// keyEncipherment|digitalSignature, the given extKeyUsage, no basic
// constraints; signed by the FIRST certificate of the CA bundle; a new P-256
// key.
func fxSignLeaf(caCerts []*x509.Certificate, caKey crypto.Signer, spec fxLeafSpec, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := fxNewP256()
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(math.MaxInt64))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CN, Organization: spec.Org},
		DNSNames:     spec.DNS,
		IPAddresses:  spec.IPs,
		NotBefore:    caCerts[0].NotBefore,
		NotAfter:     now.Add(365 * fxDay).UTC(),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.Usage,
	}
	leaf, err := fxCreate(tmpl, caCerts[0], key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing %s under %s: %v", spec.Stem, spec.CA, err)
	}
	return leaf, key, nil
}

// fxIssueLeaf issues spec under its CA in tlsDir and returns the certificate
// file [leaf, whole CA bundle] and the SEC1 key file, as k3s writes them.
func fxIssueLeaf(tlsDir string, spec fxLeafSpec, now time.Time) (certFile, keyFile []byte, err error) {
	caCerts, caKey, err := fxLoadCA(tlsDir, spec.CA)
	if err != nil {
		return nil, nil, err
	}
	leaf, key, err := fxSignLeaf(caCerts, caKey, spec, now)
	if err != nil {
		return nil, nil, err
	}
	return fxCertPEM(append([]*x509.Certificate{leaf}, caCerts...)...), fxKeyPEM(key), nil
}

// fxServer is what shapes the names in the certificates of a k3s server.
type fxServer struct {
	Product       string
	Node          string
	NodeIP        net.IP
	ServiceIP     net.IP // first IP of the service CIDR (10.43.0.1)
	ClusterDomain string
	TLSSANs       []string // --tls-san
}

// sans is k3s's config.SANs (cli/server/server.go: --tls-san, then
// 127.0.0.1, ::1, localhost, the node name and IP, the first service IP)
// after dns, split into DNS names and IPs as deps.go addSANs does. The
// apiserver, etcd and supervisor serving certificates all carry it.
func (s fxServer) sans(dns ...string) ([]string, []net.IP) {
	var ips []net.IP
	all := append(append([]string{}, s.TLSSANs...), "127.0.0.1", "::1", "localhost", s.Node)
	for _, san := range all {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, san)
		}
	}
	return dns, append(ips, s.NodeIP, s.ServiceIP)
}

// kubernetesDNS are the names of the in-cluster apiserver service.
func (s fxServer) kubernetesDNS() []string {
	return []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + s.ClusterDomain}
}

// fxLeafSpecs lists the certificates a k3s server holds as files (deps.go
// genCerts for server/tls, handlers.go for the agent's kubelet certificates).
func fxLeafSpecs(s fxServer) []fxLeafSpec {
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	masters := []string{"system:masters"}
	product, node := s.Product, s.Node
	apiDNS, apiIPs := s.sans(s.kubernetesDNS()...)
	etcdDNS, etcdIPs := s.sans("kine.sock")
	tls := "server/tls"
	return []fxLeafSpec{
		{CA: "client-ca", Dir: tls, Stem: "client-admin", CN: "system:admin", Org: masters, Usage: client},
		{CA: "client-ca", Dir: tls, Stem: "client-supervisor", CN: "system:" + product + "-supervisor", Org: masters, Usage: client},
		{CA: "client-ca", Dir: tls, Stem: "client-controller", CN: "system:kube-controller-manager", Usage: client},
		{CA: "client-ca", Dir: tls, Stem: "client-scheduler", CN: "system:kube-scheduler", Usage: client},
		{CA: "client-ca", Dir: tls, Stem: "client-kube-apiserver", CN: "system:apiserver", Org: masters, Usage: client},
		{CA: "client-ca", Dir: tls, Stem: "client-kube-proxy", CN: "system:kube-proxy", Usage: client},
		{CA: "client-ca", Dir: tls, Stem: "client-" + product + "-controller", CN: "system:" + product + "-controller", Usage: client},
		{CA: "client-ca", Dir: tls, Stem: "client-" + product + "-cloud-controller", CN: product + "-cloud-controller-manager", Usage: client},
		{CA: "server-ca", Dir: tls, Stem: "serving-kube-apiserver", CN: "kube-apiserver", Usage: server, DNS: apiDNS, IPs: apiIPs},
		{CA: "request-header-ca", Dir: tls, Stem: "client-auth-proxy", CN: "system:auth-proxy", Usage: client},
		{CA: "etcd/server-ca", Dir: tls, Stem: "etcd/client", CN: "etcd-client", Usage: client},
		{CA: "etcd/peer-ca", Dir: tls, Stem: "etcd/peer-server-client", CN: "etcd-peer", Usage: both, DNS: etcdDNS, IPs: etcdIPs},
		{CA: "etcd/server-ca", Dir: tls, Stem: "etcd/server-client", CN: "etcd-server", Usage: both, DNS: etcdDNS, IPs: etcdIPs},
		{CA: "client-ca", Dir: "agent", Stem: "client-kubelet", CN: "system:node:" + node, Org: []string{"system:nodes"}, Usage: client},
		{CA: "server-ca", Dir: "agent", Stem: "serving-kubelet", CN: node, Usage: server,
			DNS: []string{node, "localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1"), s.NodeIP}},
	}
}

// fxSupervisorSpec is the supervisor's serving certificate (port 6443), made
// by dynamiclistener (cluster/https.go newListener: CN and O = the product,
// SANs = config.SANs plus the kubernetes service names). k3s keeps it in
// dynamic-cert.json and the k3s-serving secret, not in a file of its own.
func fxSupervisorSpec(s fxServer) fxLeafSpec {
	dns, ips := s.sans(s.kubernetesDNS()...)
	return fxLeafSpec{CA: "server-ca", Dir: "server/tls", Stem: s.Product + "-serving", CN: s.Product,
		Org: []string{s.Product}, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNS: dns, IPs: ips}
}

// fxIssueAll (re)issues every leaf certificate from the CAs in
// dataDir/server/tls and refreshes the files k3s derives at start-up:
// client-ca.nochain.crt, server-ca.nochain.crt (first certificate only),
// service.current.key (first private key), and the shared keys
// client-kubelet.key / serving-kubelet.key. That is what a k3s server does at
// start-up, and again at the restart after rotate-ca (a leaf whose AKI no
// longer matches the CA's SKI is re-issued with a new key).
func fxIssueAll(dataDir string, srv fxServer, now time.Time) error {
	tlsDir := filepath.Join(dataDir, "server", "tls")
	out := fxFiles{}
	// The agent fetches these two client certificates from the server
	// (pkg/agent/config: the supervisor's /v1-<program>/client-kube-proxy.crt
	// and client-<program>-controller.crt serve the server's own files) and
	// keeps copies in agent/.
	agentCopies := map[string]bool{"client-kube-proxy": true, "client-" + srv.Product + "-controller": true}
	for _, spec := range fxLeafSpecs(srv) {
		crt, key, err := fxIssueLeaf(tlsDir, spec, now)
		if err != nil {
			return err
		}
		out[spec.Dir+"/"+spec.Stem+".crt"] = crt
		out[spec.Dir+"/"+spec.Stem+".key"] = key
		if spec.Dir == "server/tls" && agentCopies[spec.Stem] {
			out["agent/"+spec.Stem+".crt"] = crt
			out["agent/"+spec.Stem+".key"] = key
		}
	}
	// ... and the CA bundles it trusts (/cacerts and client-ca.crt).
	for _, stem := range []string{"client-ca", "server-ca"} {
		bundle, err := os.ReadFile(filepath.Join(tlsDir, stem+".crt"))
		if err != nil {
			return err
		}
		out["agent/"+stem+".crt"] = bundle
	}
	for _, stem := range []string{"client-kubelet", "serving-kubelet"} {
		// deps.go: LoadOrGenerateKeyFile, regenerated only with a new CA
		if _, err := os.Stat(filepath.Join(tlsDir, stem+".key")); err == nil {
			continue
		}
		k, err := fxNewP256()
		if err != nil {
			return err
		}
		out["server/tls/"+stem+".key"] = fxKeyPEM(k)
	}
	for _, stem := range []string{"client-ca", "server-ca"} {
		certs, err := kuCertsFromFile(filepath.Join(tlsDir, stem+".crt"))
		if err != nil {
			return err
		}
		out["server/tls/"+stem+".nochain.crt"] = fxCertPEM(certs[0])
	}
	sa, err := os.ReadFile(filepath.Join(tlsDir, "service.key"))
	if err != nil {
		return err
	}
	saKey, _, err := kuParsePrivateKey(sa)
	if err != nil {
		return fmt.Errorf("service.key: %v", err)
	}
	signer, ok := saKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("service.key: first private key is a %T", saKey)
	}
	out["server/tls/service.current.key"] = fxKeyPEM(signer)
	return out.write(dataDir)
}

// fxHashCA is k3s's hashCA (pkg/clientaccess/token.go): with more than one
// certificate, verify the first with roots = later certificates without AKI
// or with AKI == SKI and intermediates = the other later ones, and hash the
// DER of the last certificate of the first chain; otherwise (one
// certificate, or no chain) hash the bytes of the file. now is the time the
// verification runs at (k3s: the wall clock).
func fxHashCA(data []byte, now time.Time) (string, error) {
	certs, err := kuParseCerts(data)
	if err != nil {
		return "", err
	}
	b := data
	if len(certs) > 1 {
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		for _, c := range certs[1:] {
			if len(c.AuthorityKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
				roots.AddCert(c)
			} else {
				inter.AddCert(c)
			}
		}
		chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now})
		if err == nil {
			b = chains[0][len(chains[0])-1].Raw
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// fxRandomHex is k3s's util.Random: n random bytes, hex-encoded.
func fxRandomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// fxTokenCreds returns the part after "K10<hash>::" of a token file's
// contents (the credentials, e.g. "server:abc"), or "" if it has none.
func fxTokenCreds(data []byte) string {
	s := strings.TrimSpace(string(data))
	s = strings.TrimPrefix(s, "K10")
	if i := strings.Index(s, "::"); i >= 0 {
		return s[i+2:]
	}
	return ""
}

// fxWriteTokens writes server/token and server/agent-token as k3s's
// writeToken does: "K10" + hashCA(server-ca.crt) + "::" + credentials + "\n",
// mode 0600.
func fxWriteTokens(dataDir, serverCreds, agentCreds string, now time.Time) (string, error) {
	ca, err := os.ReadFile(filepath.Join(dataDir, "server", "tls", "server-ca.crt"))
	if err != nil {
		return "", err
	}
	hash, err := fxHashCA(ca, now)
	if err != nil {
		return "", err
	}
	files := fxFiles{
		"server/token":       []byte("K10" + hash + "::" + serverCreds + "\n"),
		"server/agent-token": []byte("K10" + hash + "::" + agentCreds + "\n"),
	}
	return hash, files.write(dataDir)
}

// fxPrivateKeyBlocks returns the PEM blocks of data whose label ends in "PRIVATE
// KEY", in order.
func fxPrivateKeyBlocks(data []byte) []*pem.Block {
	var out []*pem.Block
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out
		}
		if strings.HasSuffix(block.Type, "PRIVATE KEY") {
			out = append(out, block)
		}
	}
}

func fxParseAnyPrivate(block *pem.Block) (crypto.Signer, error) {
	var key interface{}
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return s, nil
}

func fxSamePublic(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

// fxRotateCA makes the new files for one CA the way
// rotate-default-ca-certs.sh does. The old root is the single certificate
// and key of the current files, or the 2nd certificate of the bundle and 2nd
// key of the key file when the bundle holds more than one. A new P-256 root
// "<product>-<type>-root@TS" is self-signed and cross-signed by the old root;
// a new P-256 intermediate "<product>-<type>-ca@TS" is signed by the new
// root. All three: 7300 days from now, random serial, SKI = SHA-1 of the
// public key, AKI = issuer's SKI, critical CA:TRUE, critical keyUsage
// digitalSignature|keyCertSign (the script also sets keyEncipherment, which
// RFC 5480 forbids on EC keys; the contract drops it).
func fxRotateCA(tlsDir string, ca fxCA, product string, now time.Time) (crt, key []byte, err error) {
	crtPath := filepath.Join(tlsDir, ca.Stem+".crt")
	keyPath := filepath.Join(tlsDir, ca.Stem+".key")
	certs, err := kuCertsFromFile(crtPath)
	if err != nil {
		return nil, nil, err
	}
	keyData, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	blocks := fxPrivateKeyBlocks(keyData)
	idx := 0
	if len(certs) > 1 {
		idx = 1
	}
	if len(blocks) <= idx {
		return nil, nil, fmt.Errorf("%s: has %d private key(s), the old root key is key #%d", keyPath, len(blocks), idx+1)
	}
	oldRoot := certs[idx]
	oldKey, err := fxParseAnyPrivate(blocks[idx])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: key #%d: %v", keyPath, idx+1, err)
	}
	if !fxSamePublic(oldKey.Public(), oldRoot.PublicKey) {
		return nil, nil, fmt.Errorf("%s: key #%d does not belong to certificate #%d of %s (%q)", keyPath, idx+1, idx+1, crtPath, oldRoot.Subject.CommonName)
	}

	ts := now.Unix()
	name := strings.Replace(ca.Type, "/", "-", -1)
	caTemplate := func(cn string, pub crypto.PublicKey, aki []byte) (*x509.Certificate, error) {
		serial, err := fxSerial()
		if err != nil {
			return nil, err
		}
		ski, err := fxSKI(pub)
		if err != nil {
			return nil, err
		}
		if aki == nil {
			aki = ski
		}
		return &x509.Certificate{
			SerialNumber:          serial,
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             now.UTC(),
			NotAfter:              now.Add(7300 * fxDay).UTC(),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
			SubjectKeyId:          ski,
			AuthorityKeyId:        aki,
		}, nil
	}

	rootKey, err := fxNewP256()
	if err != nil {
		return nil, nil, err
	}
	rootCN := fmt.Sprintf("%s-%s-root@%d", product, name, ts)
	ssTmpl, err := caTemplate(rootCN, rootKey.Public(), nil)
	if err != nil {
		return nil, nil, err
	}
	ssigned, err := fxCreate(ssTmpl, ssTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	oldSKI := oldRoot.SubjectKeyId
	if len(oldSKI) == 0 {
		if oldSKI, err = fxSKI(oldRoot.PublicKey); err != nil {
			return nil, nil, err
		}
	}
	xsTmpl, err := caTemplate(rootCN, rootKey.Public(), oldSKI)
	if err != nil {
		return nil, nil, err
	}
	xsigned, err := fxCreate(xsTmpl, oldRoot, rootKey.Public(), oldKey)
	if err != nil {
		return nil, nil, fmt.Errorf("cross-signing with the old %s root: %v", ca.Stem, err)
	}
	interKey, err := fxNewP256()
	if err != nil {
		return nil, nil, err
	}
	inTmpl, err := caTemplate(fmt.Sprintf("%s-%s-ca@%d", product, name, ts), interKey.Public(), ssigned.SubjectKeyId)
	if err != nil {
		return nil, nil, err
	}
	inter, err := fxCreate(inTmpl, ssigned, interKey.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	crt = fxCertPEM(inter, ssigned, xsigned, oldRoot)
	key = append(fxKeyPEM(interKey), fxKeyPEM(rootKey)...)
	return crt, key, nil
}

// fxRotate builds the whole staging tls dir from the current one: the five
// CA bundles and key files, and service.key = a new RSA-2048 key (PKCS#1)
// followed by the current service.key byte for byte.
func fxRotate(tlsDir, product string, now time.Time) (fxFiles, error) {
	out := fxFiles{}
	for _, ca := range fxCAs {
		crt, key, err := fxRotateCA(tlsDir, ca, product, now)
		if err != nil {
			return nil, err
		}
		out[ca.Stem+".crt"] = crt
		out[ca.Stem+".key"] = key
	}
	cur, err := os.ReadFile(filepath.Join(tlsDir, "service.key"))
	if err != nil {
		return nil, err
	}
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	out["service.key"] = append(fxKeyPEM(sa), cur...)
	return out, nil
}

// fxParseNow parses an RFC 3339 --now flag ("" = the current time).
func fxParseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError{"--now: " + err.Error()}
	}
	return t, nil
}

func fxCheckProduct(p string) error {
	if p == "" || strings.ContainsAny(p, "/ \t\n") {
		return usageError{"--product must be a plain name such as k3s or rke2"}
	}
	return nil
}

// fxWriteKubeconfig writes the admin kubeconfig as k3s does at each server
// start (pkg/clientaccess/kubeconfig.go WriteClientKubeConfig, through
// client-go's clientcmd.Write: sorted keys, block style): cluster, context and
// user named "default", the server CA bundle as certificate-authority-data, and
// server/tls/client-admin.crt (leaf and CA bundle) and .key embedded as
// client-certificate-data and client-key-data, mode 0600.
func fxWriteKubeconfig(dataDir, path string) error {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dataDir, "server", "tls", name))
		return base64.StdEncoding.EncodeToString(b), err
	}
	ca, err := read("server-ca.crt")
	if err != nil {
		return err
	}
	cert, err := read("client-admin.crt")
	if err != nil {
		return err
	}
	key, err := read("client-admin.key")
	if err != nil {
		return err
	}
	text := "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: " + ca +
		"\n    server: https://127.0.0.1:6443\n  name: default\ncontexts:\n- context:\n    cluster: default\n" +
		"    user: default\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {}\nusers:\n" +
		"- name: default\n  user:\n    client-certificate-data: " + cert + "\n    client-key-data: " + key + "\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}
