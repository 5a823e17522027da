package kinesisapi

import (
	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// Reply shapes. Optional members are omitempty; members AWS always sends are not.

type hashKeyRangeOut struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

type seqRangeOut struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
}

type shardOut struct {
	ShardId               string          `json:"ShardId"`
	ParentShardId         string          `json:"ParentShardId,omitempty"`
	AdjacentParentShardId string          `json:"AdjacentParentShardId,omitempty"`
	HashKeyRange          hashKeyRangeOut `json:"HashKeyRange"`
	SequenceNumberRange   seqRangeOut     `json:"SequenceNumberRange"`
}

type streamModeOut struct {
	StreamMode string `json:"StreamMode"`
}

type enhancedMonitoringOut struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

type streamDescriptionOut struct {
	StreamName              string                  `json:"StreamName"`
	StreamARN               string                  `json:"StreamARN"`
	StreamStatus            string                  `json:"StreamStatus"`
	StreamModeDetails       streamModeOut           `json:"StreamModeDetails"`
	Shards                  []shardOut              `json:"Shards"`
	HasMoreShards           bool                    `json:"HasMoreShards"`
	RetentionPeriodHours    int                     `json:"RetentionPeriodHours"`
	StreamCreationTimestamp awsproto.Timestamp      `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMonitoringOut `json:"EnhancedMonitoring"`
	EncryptionType          string                  `json:"EncryptionType"`
	KeyId                   string                  `json:"KeyId,omitempty"`
}

type streamSummaryOut struct {
	StreamName                 string                  `json:"StreamName"`
	StreamARN                  string                  `json:"StreamARN"`
	StreamId                   string                  `json:"StreamId,omitempty"`
	StreamStatus               string                  `json:"StreamStatus"`
	StreamModeDetails          streamModeOut           `json:"StreamModeDetails"`
	RetentionPeriodHours       int                     `json:"RetentionPeriodHours"`
	StreamCreationTimestamp    awsproto.Timestamp      `json:"StreamCreationTimestamp"`
	EnhancedMonitoring         []enhancedMonitoringOut `json:"EnhancedMonitoring"`
	EncryptionType             string                  `json:"EncryptionType"`
	KeyId                      string                  `json:"KeyId,omitempty"`
	OpenShardCount             int                     `json:"OpenShardCount"`
	ConsumerCount              int                     `json:"ConsumerCount"`
	MaxRecordSizeInKiB         int                     `json:"MaxRecordSizeInKiB,omitempty"`
	RecordDistributionStrategy string                  `json:"RecordDistributionStrategy,omitempty"`
}

type listStreamSummaryOut struct {
	StreamName              string             `json:"StreamName"`
	StreamARN               string             `json:"StreamARN"`
	StreamStatus            string             `json:"StreamStatus"`
	StreamModeDetails       streamModeOut      `json:"StreamModeDetails"`
	StreamCreationTimestamp awsproto.Timestamp `json:"StreamCreationTimestamp"`
}

type consumerOut struct {
	ConsumerName              string             `json:"ConsumerName"`
	ConsumerARN               string             `json:"ConsumerARN"`
	ConsumerStatus            string             `json:"ConsumerStatus"`
	ConsumerCreationTimestamp awsproto.Timestamp `json:"ConsumerCreationTimestamp"`
	StreamARN                 string             `json:"StreamARN,omitempty"`
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func toShardOut(s streamcore.Shard) shardOut {
	return shardOut{
		ShardId:               s.ShardID,
		ParentShardId:         s.ParentShardID,
		AdjacentParentShardId: s.AdjacentParentShardID,
		HashKeyRange: hashKeyRangeOut{
			StartingHashKey: s.HashKeyRange.Start.String(),
			EndingHashKey:   s.HashKeyRange.End.String(),
		},
		SequenceNumberRange: seqRangeOut{
			StartingSequenceNumber: s.StartingSequence,
			EndingSequenceNumber:   s.EndingSequence,
		},
	}
}

func monitoringOut(metrics []string) []enhancedMonitoringOut {
	if metrics == nil {
		metrics = []string{}
	}
	return []enhancedMonitoringOut{{ShardLevelMetrics: metrics}}
}

func encryptionType(d streamcore.StreamDescription) string {
	if d.EncryptionType == "" {
		return "NONE"
	}
	return d.EncryptionType
}

func toConsumerOut(c streamcore.Consumer, withStream bool) consumerOut {
	o := consumerOut{
		ConsumerName:              c.Name,
		ConsumerARN:               c.ARN,
		ConsumerStatus:            c.Status,
		ConsumerCreationTimestamp: awsproto.TS(c.CreatedAt),
	}
	if withStream {
		o.StreamARN = c.StreamARN
	}
	return o
}
