package firehose

import (
	"log/slog"
	"sort"
	"strings"

	"github.com/sluice-io/sluice/sinks"
	"github.com/sluice-io/sluice/sources/processors"
	"github.com/sluice-io/sluice/sources/record"
)

// Built is a destination ready for the runner (what a DestinationFactory returns).
type Built = sinks.Built

// DestinationFactory builds the destination of def. conn is how to reach S3.
type DestinationFactory func(def *Definition, conn S3Conn) (*Built, error)

// buildChain compiles the processors of def; errors are InvalidArgumentException.
func buildChain(def *Definition, observe func(processors.StageStats)) (*processors.Chain, error) {
	st := def.Dest.Config.Settings()
	o := processors.Options{
		Observer:            observe,
		KPLDeaggregation:    def.Type == TypeKinesisSrc,
		DynamicPartitioning: st.Partitioned,
		LambdaFunctions:     def.Lambdas,
		DeliveryStreamARN:   def.ARN,
	}
	if parts := strings.SplitN(def.ARN, ":", 6); len(parts) == 6 {
		o.Region = parts[3]
	}
	if def.Source != nil {
		o.SourceStreamARN = def.Source.KinesisStreamARN
	}
	c, err := processors.NewChain(st.Processing.Chain(), o)
	if err != nil {
		return nil, invalidArg("%s", record.Message(err))
	}
	return c, nil
}

// queryKeys are the literal keys of def's MetadataExtraction query, sorted.
func queryKeys(chain *processors.Chain) []string {
	keys := chain.QueryKeys()
	sort.Strings(keys)
	return keys
}

// ValidateDestination checks the destination and processors of def as
// CreateDeliveryStream does (InvalidArgumentException on failure), without building a
// client.
func ValidateDestination(def *Definition) error {
	if def.Dest.Config == nil {
		return invalidArg("Exactly one destination configuration is supported for a Firehose")
	}
	chain, err := buildChain(def, nil)
	if err != nil {
		return err
	}
	if err := def.Dest.Config.Validate(queryKeys(chain)); err != nil {
		return invalidArg("%s", record.Message(err))
	}
	if cu, ok := def.Dest.Config.(sinks.CatalogUser); ok && cu.Converts() {
		if err := cu.CheckCatalog(def.Catalog); err != nil {
			return invalidArg("%s", record.Message(err))
		}
	}
	return nil
}

// NewDestination is the default DestinationFactory: the registered kind of def builds it.
func NewDestination(def *Definition, conn S3Conn) (*Built, error) {
	return newDestination(def, conn, slog.Default(), nil)
}

func newDestination(def *Definition, conn S3Conn, lg *slog.Logger, m *Metrics) (*Built, error) {
	if err := ValidateDestination(def); err != nil {
		return nil, err
	}
	chain, err := buildChain(def, nil)
	if err != nil {
		return nil, err
	}
	domains := def.Domains
	if domains == nil {
		domains = map[string]string{}
	}
	env := sinks.Env{DeliveryStream: def.Name, ARN: def.ARN, VersionID: def.VersionString(), Group: def.Group, S3: conn, Domains: domains, AllowInsecure: def.AllowInsecure,
		QueryKeys: queryKeys(chain), Catalog: def.Catalog, Logger: lg.With("delivery_stream", def.Name)}
	if m != nil {
		data, errs := m.S3Objects.WithLabelValues(def.Name, "data"), m.S3Objects.WithLabelValues(def.Name, "error")
		env.OnObject = func(kind string) {
			if kind == "data" {
				data.Inc()
			} else {
				errs.Inc()
			}
		}
	}
	if m != nil {
		recs, bytes := m.HTTPProcessedRecords.WithLabelValues(def.Name), m.HTTPProcessedBytes.WithLabelValues(def.Name)
		env.OnProcessed = func(records, n int) {
			recs.Add(float64(records))
			bytes.Add(float64(n))
		}
	}
	b, err := def.Dest.Config.Build(env)
	if err != nil {
		return nil, invalidArg("%s", record.Message(err))
	}
	return b, nil
}
