package main

import (
	"fmt"
	"os"
	"time"
)

// hashca prints the k3s join-token CA hash of a PEM bundle (fxHashCA in
// k3spki.go, k3s pkg/clientaccess hashCA) at the current time, as k3s does.
func init() { register("hashca", runHashCA) }

func runHashCA(args []string) error {
	if len(args) != 1 {
		return usageError{"usage: gocheck hashca FILE"}
	}
	path := args[0]
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	hash, err := fxHashCA(data, time.Now())
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	fmt.Println(hash)
	return nil
}
