// Package api holds the withdrawal service's OpenAPI 3 document, kept in
// the repository and served at /openapi.json.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document of the withdrawal service.
//
//go:embed openapi.json
var OpenAPI []byte
