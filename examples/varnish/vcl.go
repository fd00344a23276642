// Package varnish ships hoist's example Varnish configuration (hoist.vcl:
// cache by path, purge by surrogate key with vmod xkey), embedded so the
// demo can start an edge wherever the binary runs.
package varnish

import _ "embed"

// VCL is hoist.vcl.
//
//go:embed hoist.vcl
var VCL []byte
