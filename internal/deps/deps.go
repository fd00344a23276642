//go:build tools

// Package deps pins the project's dependencies while the packages that use
// them are being written; go mod tidy keeps what a build tag imports.
package deps

import (
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudfront"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/bradleyfalzon/ghinstallation/v2"
	_ "github.com/chromedp/chromedp"
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "github.com/google/go-github/v60/github"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/palantir/go-githubapp/githubapp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/riverqueue/river"
	_ "github.com/riverqueue/river/riverdriver/riverpgxv5"
	_ "github.com/riverqueue/river/riverdriver/riversqlite"
	_ "github.com/rs/zerolog"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
