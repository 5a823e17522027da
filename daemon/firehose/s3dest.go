package firehose

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"

	"github.com/sluice-io/sluice/delivery"

	"github.com/sluice-io/sluice/sources/record"

	"github.com/sluice-io/sluice/sinks"
	s3sink "github.com/sluice-io/sluice/sinks/s3"
	"github.com/sluice-io/sluice/sources/processors"
)

// Destination is a built destination of one delivery stream.
type Destination struct {
	Type   string // the destination's type, a metric label ("s3")
	Sink   sinks.Sink
	Errors delivery.ErrorOutput
	// FailedType is the error-output type of records the destination did not take ("" =
	// record.DeliveryFailed).
	FailedType string
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
	return newS3Destination(def, conn, slog.Default(), nil)
}

func newS3Destination(def *Definition, conn S3Conn, lg *slog.Logger, m *Metrics) (*Destination, error) {
	chain, err := buildChain(def, nil)
	if err != nil {
		return nil, err
	}
	keys := chain.QueryKeys()
	sort.Strings(keys)
	opts := []s3sink.Option{s3sink.WithLogger(lg.With("delivery_stream", def.Name))}
	if m != nil {
		data, errs := m.S3Objects.WithLabelValues(def.Name, "data"), m.S3Objects.WithLabelValues(def.Name, "error")
		opts = append(opts, s3sink.WithObjectHook(func(kind string) {
			if kind == "data" {
				data.Inc()
			} else {
				errs.Inc()
			}
		}))
	}
	snk, err := s3sink.New(s3Config(def, conn, keys), opts...)
	if err != nil {
		return nil, invalidArg("%s", sinkMsg(err))
	}
	return &Destination{
		Type:   "s3",
		Sink:   snk,
		Errors: s3Errors{snk},
		CheckPartition: func(pk map[string]string, arrivalMs int64) error {
			k := snk.Keys()
			_, err := k.ObjectPrefix(k.Time(arrivalMs), pk)
			return err
		},
	}, nil
}

type s3Errors struct{ s *s3sink.Sink }

func (e s3Errors) WriteFailures(ctx context.Context, errorType string, recs []record.FailureRecord) error {
	_, err := e.s.WriteErrors(ctx, errorType, recs)
	return err
}

// sinkMsg is the client-facing text of a configuration error from sinks/processors.
func sinkMsg(err error) string {
	var ia *record.InvalidArgumentError
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
