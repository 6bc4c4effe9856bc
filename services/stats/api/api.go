// Package api holds the stats service's OpenAPI 3 document, kept in the
// repository and served at /openapi.json.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document of the stats service.
//
//go:embed openapi.json
var OpenAPI []byte
