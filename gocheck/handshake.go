package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"
)

// handshake runs a real mutual-TLS handshake on loopback between a server
// and a client built from the given files, then exchanges "ping"/"pong".
func init() { register("handshake", runHandshake) }

// handshakeSide is what one side of the connection saw.
type handshakeSide struct {
	err      error
	version  uint16
	verified []string // CNs of the peer's verified chain, leaf first
	sent     []string // CNs of the certificates the peer sent
}

func runHandshake(args []string) error {
	fs := flag.NewFlagSet("handshake", flag.ContinueOnError)
	serverCert := fs.String("server-cert", "", "server certificate PEM (may hold a chain, sent as is)")
	serverKey := fs.String("server-key", "", "server private key PEM")
	clientCA := fs.String("client-ca", "", "PEM file of CAs the server trusts for client certificates")
	clientCert := fs.String("client-cert", "", "client certificate PEM")
	clientKey := fs.String("client-key", "", "client private key PEM")
	roots := fs.String("roots", "", "PEM file of CAs the client trusts for the server certificate")
	serverName := fs.String("server-name", "localhost", "server name the client verifies")
	timeout := fs.Duration("timeout", 10*time.Second, "overall time limit")
	noClientCert := fs.Bool("no-client-cert", false, "client presents no certificate")
	pos, err := parseFlagsAnyOrder(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *serverCert == "" || *serverKey == "" || *clientCA == "" || *roots == "" ||
		(!*noClientCert && (*clientCert == "" || *clientKey == "")) {
		return usageError{"usage: gocheck handshake --server-cert F --server-key F --client-ca F (--client-cert F --client-key F | --no-client-cert) --roots F [--server-name localhost] [--timeout 10s]"}
	}

	serverPair, err := tls.LoadX509KeyPair(*serverCert, *serverKey)
	if err != nil {
		return fmt.Errorf("server key pair %s + %s: %v", *serverCert, *serverKey, err)
	}
	clientCAs, err := poolFromFiles([]string{*clientCA})
	if err != nil {
		return err
	}
	rootPool, err := poolFromFiles([]string{*roots})
	if err != nil {
		return err
	}
	clientConf := &tls.Config{RootCAs: rootPool, ServerName: *serverName}
	if !*noClientCert {
		pair, err := tls.LoadX509KeyPair(*clientCert, *clientKey)
		if err != nil {
			return fmt.Errorf("client key pair %s + %s: %v", *clientCert, *clientKey, err)
		}
		// Always present the certificate, even when its issuer is not among
		// the CAs the server advertises (Go's default would then send none),
		// so that the server's own verification is what gets tested.
		clientConf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &pair, nil
		}
	}
	serverConf := &tls.Config{
		Certificates: []tls.Certificate{serverPair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	}

	deadline := time.Now().Add(*timeout)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := ln.SetDeadline(deadline); err != nil {
		return err
	}

	serverDone := make(chan handshakeSide, 1)
	go func() { serverDone <- runHandshakeServer(ln, serverConf, deadline) }()
	client := runHandshakeClient(ln.Addr().String(), clientConf, deadline)
	if client.err != nil {
		// Unblock a server still waiting for a client that gave up.
		ln.Close()
	}
	var server handshakeSide
	select {
	case server = <-serverDone:
	case <-time.After(time.Until(deadline) + 2*time.Second):
		server.err = fmt.Errorf("server did not finish within %v", *timeout)
	}

	if server.err != nil || client.err != nil {
		return handshakeFailure(server.err, client.err)
	}
	return printJSON(struct {
		OK                  bool     `json:"ok"`
		Version             string   `json:"version"`
		ServerVerifiedChain []string `json:"server_verified_chain"`
		ClientVerifiedChain []string `json:"client_verified_chain"`
		ServerSentChain     []string `json:"server_sent_chain"`
		ClientSentChain     []string `json:"client_sent_chain"`
	}{
		OK:                  true,
		Version:             tlsVersionName(client.version),
		ServerVerifiedChain: client.verified,
		ClientVerifiedChain: server.verified,
		ServerSentChain:     client.sent,
		ClientSentChain:     server.sent,
	})
}

func runHandshakeServer(ln *net.TCPListener, conf *tls.Config, deadline time.Time) handshakeSide {
	raw, err := ln.Accept()
	if err != nil {
		return handshakeSide{err: fmt.Errorf("accept: %w", err)}
	}
	conn := tls.Server(raw, conf)
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return handshakeSide{err: err}
	}
	if err := conn.Handshake(); err != nil {
		return handshakeSide{err: err}
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return handshakeSide{err: fmt.Errorf("reading ping: %w", err)}
	}
	if string(buf) != "ping" {
		return handshakeSide{err: fmt.Errorf("expected ping, got %q", buf)}
	}
	if _, err := conn.Write([]byte("pong")); err != nil {
		return handshakeSide{err: fmt.Errorf("writing pong: %w", err)}
	}
	return describeHandshake(conn.ConnectionState())
}

func runHandshakeClient(addr string, conf *tls.Config, deadline time.Time) handshakeSide {
	dialer := &net.Dialer{Deadline: deadline}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, conf)
	if err != nil {
		return handshakeSide{err: err}
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return handshakeSide{err: err}
	}
	// With TLS 1.3 the server checks the client certificate after the
	// client's handshake is done: its verdict arrives with the first read.
	if _, err := conn.Write([]byte("ping")); err != nil {
		return handshakeSide{err: fmt.Errorf("writing ping: %w", err)}
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return handshakeSide{err: fmt.Errorf("reading pong: %w", err)}
	}
	if string(buf) != "pong" {
		return handshakeSide{err: fmt.Errorf("expected pong, got %q", buf)}
	}
	return describeHandshake(conn.ConnectionState())
}

func describeHandshake(st tls.ConnectionState) handshakeSide {
	side := handshakeSide{version: st.Version, verified: []string{}, sent: chainCNs(st.PeerCertificates)}
	if len(st.VerifiedChains) > 0 {
		side.verified = chainCNs(st.VerifiedChains[0])
	}
	return side
}

// isRemoteAlert reports whether err is an alert the peer sent, as opposed to
// a failure detected locally.
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// handshakeFailure names the side that rejected the handshake and why.
func handshakeFailure(serverErr, clientErr error) error {
	s, c := "ok", "ok"
	if serverErr != nil {
		s = serverErr.Error()
	}
	if clientErr != nil {
		c = clientErr.Error()
	}
	switch {
	case serverErr != nil && !isRemoteAlert(serverErr):
		return fmt.Errorf("server side rejected the handshake: %s (client side: %s)", s, c)
	case clientErr != nil && !isRemoteAlert(clientErr):
		return fmt.Errorf("client side rejected the handshake: %s (server side: %s)", c, s)
	default:
		return fmt.Errorf("handshake failed: server side: %s; client side: %s", s, c)
	}
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1.0"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS13:
		return "TLS1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
