// Command demo is the small workload that `make demo` records: an HTTP
// server and client on loopback, a temporary file, and a child process,
// which together make a typical service's syscalls.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	if err := run(); err != nil {
		log.Fatalf("demo: %v", err)
	}
}

func run() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()

	resp, err := http.Get("http://" + ln.Addr().String() + "/sysrec")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "sysrec-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "response.txt")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return err
	}
	out, err := exec.Command("/bin/cat", path).Output()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: served and read back %q\n", out)
	return nil
}
