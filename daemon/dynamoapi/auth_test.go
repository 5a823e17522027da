package dynamoapi

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-io/sluice/daemon/awsproto"
	"github.com/sluice-io/sluice/streamcore"
)

// With auth.credentials, requests are SigV4-verified (signing name dynamodb) and the
// key's patterns apply to dynamodb:<Op> actions and table names/ARNs.
func TestSigV4AndPolicies(t *testing.T) {
	e := startEnv(t, streamcore.NewMemStore(), Options{Credentials: []awsproto.Credential{{
		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret",
		Actions:   []string{"dynamodb:CreateTable", "dynamodb:Describe*", "dynamodb:GetItem"},
		Resources: []string{"app-*"},
	}}})
	ctx := context.Background()
	create := func(c *dynamodb.Client, name string) error {
		_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
			BillingMode:          types.BillingModePayPerRequest,
		})
		return err
	}
	if err := create(e.c, "app-leases"); err != nil {
		t.Fatal(err)
	}
	if err := create(e.c, "other"); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("table outside the key's patterns: %v", err)
	}
	_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("app-leases"), Item: map[string]types.AttributeValue{"k": s("a")}})
	if err == nil || !strings.Contains(err.Error(), "dynamodb:PutItem") {
		t.Fatalf("action outside the key's patterns: %v", err)
	}
	bad := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wrong", "")})
	if _, err := bad.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("app-leases")}); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("bad signature: %v", err)
	}
	unknown := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDOTHER", "secret", "")})
	if _, err := unknown.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("app-leases")}); err == nil || !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Fatalf("unknown key: %v", err)
	}
	// an operation Sluice does not serve names itself and what is served
	_, err = e.c.DescribeLimits(ctx, &dynamodb.DescribeLimitsInput{})
	if err == nil || !strings.Contains(err.Error(), "UnknownOperationException") || !strings.Contains(err.Error(), "DescribeLimits") {
		t.Fatalf("unserved operation: %v", err)
	}
}

func TestValidationErrorsNameTheMember(t *testing.T) {
	e := memEnv(t)
	ctx := context.Background()
	createLeaseTable(t, e.c, "vt-leases")
	tbl := aws.String("vt-leases")
	key := map[string]types.AttributeValue{"leaseKey": s("a")}
	cases := []struct {
		name string
		call func() error
		want string
	}{
		{"unused value", func() error {
			_, err := e.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET a = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": n("1"), ":b": n("2")}})
			return err
		}, "unused in expressions: keys: {:b}"},
		{"both forms", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: key, ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
				Expected: map[string]types.ExpectedAttributeValue{"leaseKey": {Exists: aws.Bool(false)}}})
			return err
		}, "Can not use both expression and non-expression parameters"},
		{"missing key", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"x": s("1")}})
			return err
		}, "Missing the key leaseKey in the item"},
		{"key type", func() error {
			_, err := e.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"leaseKey": n("1")}})
			return err
		}, "The provided key element does not match the schema"},
		{"update the key", func() error {
			_, err := e.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET leaseKey = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": s("b")}})
			return err
		}, "Cannot update attribute leaseKey. This attribute is part of the key"},
		{"syntax", func() error {
			_, err := e.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: tbl, Key: key, UpdateExpression: aws.String("SET a = = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": s("b")}})
			return err
		}, "Invalid UpdateExpression: Syntax error"},
		{"bad number", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: tbl, Item: map[string]types.AttributeValue{"leaseKey": s("a"), "c": n("12abc")}})
			return err
		}, "The parameter cannot be converted to a numeric value: 12abc"},
		{"lsi", func() error {
			_, err := e.c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("with-lsi"),
				KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("h"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("r"), KeyType: types.KeyTypeRange}},
				AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("h"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("r"), AttributeType: types.ScalarAttributeTypeS}},
				BillingMode:          types.BillingModePayPerRequest,
				LocalSecondaryIndexes: []types.LocalSecondaryIndex{{IndexName: aws.String("lsi"), KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("h"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("r"), KeyType: types.KeyTypeRange}},
					Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}})
			return err
		}, "LocalSecondaryIndexes"},
		{"no such table", func() error {
			_, err := e.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("nope-table"), Key: key})
			return err
		}, "ResourceNotFoundException"},
	}
	for _, c := range cases {
		err := c.call()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
