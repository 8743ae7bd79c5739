package main

import (
	"crypto/tls"
	"fmt"
)

// keypair runs tls.LoadX509KeyPair, the check k3s applies to its CA
// certificate and key files.
func init() { register("keypair", runKeypair) }

func runKeypair(args []string) error {
	if len(args) != 2 {
		return usageError{"usage: gocheck keypair CERTFILE KEYFILE"}
	}
	if _, err := tls.LoadX509KeyPair(args[0], args[1]); err != nil {
		return fmt.Errorf("%s + %s: %v", args[0], args[1], err)
	}
	return printJSON(map[string]bool{"ok": true})
}
