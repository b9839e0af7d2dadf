// Package api holds Parley's protos (buf module) and the OpenAPI document
// generated from their google.api.http annotations.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the REST routes (YAML), written by
// `task generate` (protoc-gen-connect-openapi, base api/openapi.base.yaml).
//
//go:embed openapi/parley.openapi.yaml
var OpenAPI []byte
