// Command fakesvc stands in for a platform service in the stack package's
// tests: it serves /readyz on HTTP_ADDR, echoes the requests it gets and the
// environment the stack gave it, and logs like a service. FAKESVC_<NAME>
// (e.g. FAKESVC_AUTH) changes its behaviour: "never-ready" answers /readyz
// with 503, "crash" exits at once with status 3.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	name := os.Getenv("SERVICE_NAME")
	mode := os.Getenv("FAKESVC_" + strings.ToUpper(name))
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, `{"level":"ERROR","msg":"cannot start"}`)
		os.Exit(3)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if mode == "never-ready" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		json.NewEncoder(w).Encode(env)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"service": name, "path": r.URL.Path, "request_id": r.Header.Get("X-Request-Id"),
			"addr": os.Getenv("HTTP_ADDR"),
		})
	})
	srv := &http.Server{Addr: os.Getenv("HTTP_ADDR"), Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		fmt.Println(`{"level":"INFO","msg":"shutting down"}`)
		srv.Close()
	}()
	fmt.Printf(`{"level":"INFO","msg":"listening","addr":%q}`+"\n", srv.Addr)
	fmt.Fprintln(os.Stderr, `{"level":"INFO","msg":"a line on stderr"}`)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
