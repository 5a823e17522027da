package dynamoapi

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-io/sluice/streamcore"
)

// failingStore fails metadata commits while fail is set (a full disk, an I/O error).
type failingStore struct {
	streamcore.Store
	fail atomic.Bool
}

func (f *failingStore) Update(ctx context.Context, fn func(tx streamcore.MetaTx) error) error {
	if f.fail.Load() {
		return errors.New("injected: no space left on device")
	}
	return f.Store.Update(ctx, fn)
}

// A write whose commit fails is answered with a 500 and leaves no trace: the next read
// and the next conditional write see the last durable item.
func TestFailedCommitRollsBack(t *testing.T) {
	fs := &failingStore{Store: streamcore.NewMemStore()}
	e := startEnv(t, fs, Options{})
	ctx := context.Background()
	createLeaseTable(t, e.c, "rb-leases")
	putLease(t, e.c, "rb-leases", "shardId-0", "w1")
	key := map[string]types.AttributeValue{"leaseKey": s("shardId-0")}
	bump := func(from string) error {
		_, err := e.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("rb-leases"), Key: key,
			Expected:         map[string]types.ExpectedAttributeValue{"leaseCounter": {Value: n(from)}},
			AttributeUpdates: map[string]types.AttributeValueUpdate{"leaseCounter": {Action: types.AttributeActionAdd, Value: n("1")}}})
		return err
	}
	fs.fail.Store(true)
	e.c = dynamodb.New(e.c.Options(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err := bump("0"); err == nil || !strings.Contains(err.Error(), "InternalServerError") {
		t.Fatalf("failed commit: %v", err)
	}
	// metadata changes roll back too
	if _, err := e.c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("rb-leases"), DeletionProtectionEnabled: aws.Bool(true)}); err == nil {
		t.Fatal("UpdateTable succeeded without a commit")
	}
	fs.fail.Store(false)
	g, err := e.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("rb-leases"), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if v := g.Item["leaseCounter"].(*types.AttributeValueMemberN).Value; v != "0" {
		t.Fatalf("leaseCounter after a failed commit = %s, want 0", v)
	}
	d, err := e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("rb-leases")})
	if err != nil || *d.Table.DeletionProtectionEnabled {
		t.Fatalf("deletion protection after a failed commit: %v %v", err, d)
	}
	if err := bump("0"); err != nil {
		t.Fatalf("the renewal from the durable counter: %v", err)
	}
}
