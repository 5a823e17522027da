//go:build tools

// Package tools pins the libraries Sluice builds on so that go mod tidy keeps them while
// the packages that use them are being written.
package tools
import (
 _ "github.com/aws/aws-sdk-go-v2/service/kinesis"
 _ "github.com/aws/aws-sdk-go-v2/service/firehose"
 _ "github.com/aws/aws-sdk-go-v2/service/s3"
 _ "github.com/aws/aws-sdk-go-v2/config"
 _ "github.com/aws/aws-sdk-go-v2/credentials"
 _ "github.com/aws/aws-sdk-go-v2/feature/s3/manager"
 _ "github.com/fxamacker/cbor/v2"
 _ "go.etcd.io/bbolt"
 _ "gopkg.in/yaml.v3"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/client_golang/prometheus/promhttp"
 _ "github.com/klauspost/compress/gzip"
 _ "github.com/klauspost/compress/snappy"
 _ "github.com/klauspost/compress/zstd"
 _ "github.com/itchyny/gojq"
 _ "github.com/google/uuid"
 _ "golang.org/x/net/http2"
)
