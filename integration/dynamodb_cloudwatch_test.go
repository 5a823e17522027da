//go:build integration

package integration

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-io/sluice/integration/harness"
)

// One Sluice endpoint serves Kinesis, the KCL's DynamoDB tables and CloudWatch
// PutMetricData; the lease table survives a kill -9 and restart.
func TestDynamoDBAndCloudWatchOnSluicePort(t *testing.T) {
	s := harness.StartSluice(t, "cloudwatch:\n  max_series: 100\nstreams:\n  - name: orders\n    shards: 1\n")
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	ddb := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), Credentials: creds})
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), Credentials: creds})
	kin := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), Credentials: creds})

	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	nv := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("orders-app"),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	w := dynamodb.NewTableExistsWaiter(ddb)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders-app")}, 30e9); err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders-app"),
		Item:     map[string]types.AttributeValue{"leaseKey": sv("shardId-000000000000"), "leaseCounter": nv("0"), "leaseOwner": sv("w1"), "checkpoint": sv("TRIM_HORIZON")},
		Expected: map[string]types.ExpectedAttributeValue{"leaseKey": {Exists: aws.Bool(false)}}}); err != nil {
		t.Fatal(err)
	}
	renew := func(counter string) error {
		_, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders-app"),
			Key:              map[string]types.AttributeValue{"leaseKey": sv("shardId-000000000000")},
			Expected:         map[string]types.ExpectedAttributeValue{"leaseCounter": {Value: nv(counter)}, "leaseOwner": {Value: sv("w1")}},
			AttributeUpdates: map[string]types.AttributeValueUpdate{"leaseCounter": {Action: types.AttributeActionAdd, Value: nv("1")}, "checkpoint": {Value: sv("4959")}}})
		return err
	}
	if err := renew("0"); err != nil {
		t.Fatal(err)
	}
	var ccf *types.ConditionalCheckFailedException
	if err := renew("0"); !errors.As(err, &ccf) {
		t.Fatalf("stale renewal: %v", err)
	}

	// Kinesis still answers on the same port
	if _, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("orders-app"),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("MillisBehindLatest"), Value: aws.Float64(42),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("ShardId"), Value: aws.String("shardId-000000000000")}}}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.Endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `sluice_client_metric{dimensions="ShardId=shardId-000000000000",name="MillisBehindLatest",namespace="orders-app"} 42`; !strings.Contains(string(body), want) {
		t.Fatalf("/metrics lacks %s", want)
	}
	if want := `sluice_dynamodb_requests_total{operation="UpdateItem",outcome="ConditionalCheckFailedException"} 1`; !strings.Contains(string(body), want) {
		t.Fatalf("/metrics lacks %s", want)
	}

	s.Kill()
	s.Start()
	g, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders-app"),
		Key: map[string]types.AttributeValue{"leaseKey": sv("shardId-000000000000")}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if c := g.Item["leaseCounter"].(*types.AttributeValueMemberN).Value; c != "1" || g.Item["checkpoint"].(*types.AttributeValueMemberS).Value != "4959" {
		t.Fatalf("after kill -9 and restart: %+v", g.Item)
	}
	if err := renew("1"); err != nil {
		t.Fatalf("renewal after restart: %v", err)
	}
}
