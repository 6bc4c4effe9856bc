// Command mergeopenapi writes the merged OpenAPI document the edge serves at
// /docs/openapi.json (devstack/edge/docs/openapi.json) from the services'
// own documents. Run it with `go generate ./devstack/edge` from the
// repository root.
package main

import (
	"flag"
	"log"
	"os"

	"github.com/fundplatform/platform/devstack/edge"
	"github.com/fundplatform/platform/devstack/edge/internal/openapimerge"
)

func main() {
	root := flag.String("root", "../..", "the repository's root")
	out := flag.String("out", "docs/openapi.json", "the file to write")
	flag.Parse()
	b, err := openapimerge.FromRepo(*root, edge.Services)
	if err != nil {
		log.Fatalf("mergeopenapi: %v", err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatalf("mergeopenapi: %v", err)
	}
}
