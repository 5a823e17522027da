package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"

	"github.com/sluice-io/sluice/sinks"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/processors"
)

// Destination is a built destination of one delivery stream.
type Destination struct {
	Sink     sinks.Sink
	Classify sinks.Classifier
	Errors   ErrorWriter
	// Unreachable reports errors meaning the server itself is down (retried forever).
	Unreachable func(error) bool
	// CheckPartition validates the evaluated prefix of a new dynamic partition.
	CheckPartition func(keys map[string]string, arrivalMs int64) error
}

// DestinationFactory builds the destination of def. conn is how to reach S3.
type DestinationFactory func(def *Definition, conn S3Conn) (*Destination, error)

// s3Config converts a definition into the S3 sink's configuration.
func s3Config(def *Definition, conn S3Conn, queryKeys []string) s3sink.Config {
	s := def.S3
	return s3sink.Config{
		Bucket:              s.Bucket(),
		Prefix:              str(s.Prefix),
		ErrorOutputPrefix:   str(s.ErrorOutputPrefix),
		CompressionFormat:   s3sink.CompressionFormat(s.CompressionFormat),
		FileExtension:       str(s.FileExtension),
		CustomTimeZone:      str(s.CustomTimeZone),
		DynamicPartitioning: s.Partitioned(),
		QueryKeys:           queryKeys,
		Endpoint:            conn.Endpoint,
		Region:              conn.Region,
		PathStyle:           conn.PathStyle,
		AccessKeyID:         conn.AccessKeyID,
		SecretAccessKey:     s3sink.Secret(conn.SecretAccessKey),
		DeliveryStreamName:  def.Name,
		VersionID:           def.VersionString(),
	}
}

// processorConfig converts the definition's ProcessingConfiguration.
func processorConfig(def *Definition) processors.Config {
	ps := def.S3.ProcessorsEnabled()
	cfg := processors.Config{Enabled: len(ps) > 0}
	for _, p := range ps {
		pc := processors.ProcessorConfig{Type: p.Type, Parameters: map[string]string{}}
		for _, kv := range p.Parameters {
			pc.Parameters[kv.ParameterName] = kv.ParameterValue
		}
		cfg.Processors = append(cfg.Processors, pc)
	}
	return cfg
}

// buildChain compiles the processors of def; errors are InvalidArgumentException.
func buildChain(def *Definition, observe func(processors.StageStats)) (*processors.Chain, error) {
	o := processors.Options{
		Observer:            observe,
		KPLDeaggregation:    def.Type == TypeKinesisSrc,
		DynamicPartitioning: def.S3.Partitioned(),
		LambdaFunctions:     def.Lambdas,
		DeliveryStreamARN:   def.ARN,
	}
	if parts := strings.SplitN(def.ARN, ":", 6); len(parts) == 6 {
		o.Region = parts[3]
	}
	if def.Source != nil {
		o.SourceStreamARN = def.Source.KinesisStreamARN
	}
	c, err := processors.NewChain(processorConfig(def), o)
	if err != nil {
		return nil, invalidArg("%s", sinkMsg(err))
	}
	return c, nil
}

// NewS3Destination is the default DestinationFactory: the S3 sink of sinks/s3.
func NewS3Destination(def *Definition, conn S3Conn) (*Destination, error) {
	return newS3Destination(def, conn, slog.Default())
}

func newS3Destination(def *Definition, conn S3Conn, lg *slog.Logger) (*Destination, error) {
	chain, err := buildChain(def, nil)
	if err != nil {
		return nil, err
	}
	keys := chain.QueryKeys()
	sort.Strings(keys)
	snk, err := s3sink.New(s3Config(def, conn, keys), s3sink.WithLogger(lg.With("delivery_stream", def.Name)))
	if err != nil {
		return nil, invalidArg("%s", sinkMsg(err))
	}
	return &Destination{
		Sink:        snk,
		Classify:    s3sink.Classify,
		Errors:      s3Errors{snk},
		Unreachable: s3Unreachable,
		CheckPartition: func(pk map[string]string, arrivalMs int64) error {
			k := snk.Keys()
			_, err := k.ObjectPrefix(k.Time(arrivalMs), pk)
			return err
		},
	}, nil
}

type s3Errors struct{ s *s3sink.Sink }

func (e s3Errors) WriteFailures(ctx context.Context, errorType string, _ int64, recs []sinks.FailureRecord) error {
	_, err := e.s.WriteErrors(ctx, errorType, recs)
	return err
}

// s3Unreachable: transport failures and server-side 5xx mean S3 itself is down — wait,
// never divert to the error output (which lives on the same server).
func s3Unreachable(err error) bool {
	switch s3sink.Code(err) {
	case "S3.ConnectionFailed", "S3.Timeout", "S3.InternalError", "S3.ServiceUnavailable", "S3.SlowDown", "S3.RequestTimeout":
		return true
	}
	return false
}

// sinkMsg is the client-facing text of a configuration error from sinks/processors.
func sinkMsg(err error) string {
	var ia *sinks.InvalidArgumentError
	if errors.As(err, &ia) {
		return ia.Msg
	}
	return err.Error()
}

// ValidateS3 checks the S3 destination and processors of def as CreateDeliveryStream does
// (InvalidArgumentException on failure), without building a client.
func ValidateS3(def *Definition) error {
	chain, err := buildChain(def, nil)
	if err != nil {
		return err
	}
	keys := chain.QueryKeys()
	sort.Strings(keys)
	if err := s3Config(def, S3Conn{}, keys).Validate(); err != nil {
		return invalidArg("%s", sinkMsg(err))
	}
	return nil
}
