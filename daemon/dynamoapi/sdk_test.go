package dynamoapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-io/sluice/streamcore"
	"github.com/sluice-io/sluice/streamcore/filestore"
)

type env struct {
	srv *httptest.Server
	db  *DB
	c   *dynamodb.Client
}

func startEnv(t testing.TB, store streamcore.Store, opts Options) *env {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	db, err := OpenDB(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if opts.CreatingFor == 0 {
		opts.CreatingFor = -1
	}
	srv := httptest.NewServer(New(db, opts))
	c := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	e := &env{srv: srv, db: db, c: c}
	t.Cleanup(func() { srv.Close(); db.Close() })
	return e
}

func memEnv(t testing.TB) *env { return startEnv(t, streamcore.NewMemStore(), Options{}) }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// createLeaseTable creates a KCL-shaped lease table and adds the lease-owner GSI with
// UpdateTable, as KCL 3 does.
func createLeaseTable(t testing.TB, c *dynamodb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:                 aws.String(name),
		KeySchema:                 []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions:      []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:               types.BillingModePayPerRequest,
		DeletionProtectionEnabled: aws.Bool(false),
		Tags:                      []types.Tag{{Key: aws.String("app"), Value: aws.String("kcl")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("leaseOwner"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS},
		},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
			IndexName: aws.String("LeaseOwnerToLeaseKeyIndex"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("leaseOwner"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TableDescription.GlobalSecondaryIndexes) != 1 || out.TableDescription.GlobalSecondaryIndexes[0].IndexStatus == "" {
		t.Fatalf("UpdateTable reply names no index status: %+v", out.TableDescription.GlobalSecondaryIndexes)
	}
}

func putLease(t testing.TB, c *dynamodb.Client, table, key, owner string) {
	t.Helper()
	_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"leaseKey": s(key), "leaseOwner": s(owner), "leaseCounter": n("0"),
			"checkpoint": s("TRIM_HORIZON"), "checkpointSubSequenceNumber": n("0"),
			"ownerSwitchesSinceCheckpoint": n("0"),
		},
		Expected: map[string]types.ExpectedAttributeValue{"leaseKey": {Exists: aws.Bool(false)}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestKCLLeaseLifecycle(t *testing.T) {
	e := memEnv(t)
	ctx := context.Background()
	c := e.c
	createLeaseTable(t, c, "app-leases")

	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("app-leases")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.TableStatus != types.TableStatusActive || d.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("describe: status %s billing %+v", d.Table.TableStatus, d.Table.BillingModeSummary)
	}
	if g := d.Table.GlobalSecondaryIndexes; len(g) != 1 || g[0].IndexStatus != types.IndexStatusActive {
		t.Fatalf("gsi: %+v", g)
	}

	// a second CreateTable of the same name is ResourceInUseException
	_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("app-leases"),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("second CreateTable: %v", err)
	}

	for i := range 7 {
		putLease(t, c, "app-leases", "shardId-00000000000"+strconv.Itoa(i), "worker-a")
	}
	// creating an existing lease fails the Expected check
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("app-leases"),
		Item:      map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000")},
		Expected:  map[string]types.ExpectedAttributeValue{"leaseKey": {Exists: aws.Bool(false)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.ErrorMessage() != "The conditional request failed" {
		t.Fatalf("duplicate lease: %v", err)
	}

	// take a lease: Expected leaseCounter + leaseOwner, AttributeUpdates
	take := func(counter, owner, newOwner string) error {
		_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String("app-leases"),
			Key:       map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000")},
			Expected: map[string]types.ExpectedAttributeValue{
				"leaseCounter": {Value: n(counter)},
				"leaseOwner":   {Value: s(owner)},
			},
			AttributeUpdates: map[string]types.AttributeValueUpdate{
				"leaseCounter":                 {Action: types.AttributeActionAdd, Value: n("1")},
				"leaseOwner":                   {Action: types.AttributeActionPut, Value: s(newOwner)},
				"ownerSwitchesSinceCheckpoint": {Action: types.AttributeActionAdd, Value: n("1")},
				"checkpointOwner":              {Action: types.AttributeActionDelete},
			},
		})
		return err
	}
	if err := take("0", "worker-a", "worker-b"); err != nil {
		t.Fatal(err)
	}
	if err := take("0", "worker-a", "worker-c"); !errors.As(err, &ccf) {
		t.Fatalf("stale take: %v", err)
	}

	// renew with ReturnValuesOnConditionCheckFailure ALL_OLD: the failure carries the item
	_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String("app-leases"),
		Key:                                 map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000")},
		Expected:                            map[string]types.ExpectedAttributeValue{"leaseCounter": {Value: n("7")}, "checkpointOwner": {Exists: aws.Bool(false)}},
		AttributeUpdates:                    map[string]types.AttributeValueUpdate{"leaseCounter": {Action: types.AttributeActionAdd, Value: n("1")}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if !errors.As(err, &ccf) || ccf.Item["leaseOwner"].(*types.AttributeValueMemberS).Value != "worker-b" {
		t.Fatalf("renew failure should carry the item: %v %+v", err, ccf)
	}

	// checkpoint with an expression, ALL_NEW
	up, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String("app-leases"),
		Key:                       map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000")},
		ConditionExpression:       aws.String("attribute_exists(leaseKey) AND #o = :owner AND leaseCounter = :c"),
		UpdateExpression:          aws.String("SET checkpoint = :cp, leaseCounter = leaseCounter + :one REMOVE pendingCheckpoint"),
		ExpressionAttributeNames:  map[string]string{"#o": "leaseOwner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": s("worker-b"), ":c": n("1"), ":cp": s("49590338271490256608559692538361571095921575989136588898"), ":one": n("1")},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := up.Attributes["leaseCounter"].(*types.AttributeValueMemberN).Value; got != "2" {
		t.Fatalf("leaseCounter after checkpoint = %s", got)
	}
	g, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("app-leases"),
		Key: map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000")}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if g.Item["checkpoint"].(*types.AttributeValueMemberS).Value != "49590338271490256608559692538361571095921575989136588898" ||
		g.Item["ownerSwitchesSinceCheckpoint"].(*types.AttributeValueMemberN).Value != "1" {
		t.Fatalf("item after take+checkpoint: %+v", g.Item)
	}

	// scan with pagination (Limit 3) sees all 7 leases exactly once
	seen := map[string]int{}
	var start map[string]types.AttributeValue
	pages := 0
	for {
		out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("app-leases"), Limit: aws.Int32(3), ExclusiveStartKey: start})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range out.Items {
			seen[it["leaseKey"].(*types.AttributeValueMemberS).Value]++
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("scan saw %v in %d pages", seen, pages)
	}
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("%s seen %d times", k, v)
		}
	}
	// parallel scan: segments partition the table
	total := 0
	for seg := range 4 {
		out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("app-leases"), Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(4)})
		if err != nil {
			t.Fatal(err)
		}
		total += len(out.Items)
	}
	if total != 7 {
		t.Fatalf("segments hold %d items", total)
	}

	// the GSI: worker-a holds 6 leases, worker-b 1; keys only
	q, err := c.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String("app-leases"),
		IndexName:                 aws.String("LeaseOwnerToLeaseKeyIndex"),
		KeyConditionExpression:    aws.String("leaseOwner = :leaseOwner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":leaseOwner": s("worker-a")},
		Limit:                     aws.Int32(4),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Items) != 4 || len(q.LastEvaluatedKey) != 2 || len(q.Items[0]) != 2 {
		t.Fatalf("gsi query page: %d items, lek %v, item %v", len(q.Items), q.LastEvaluatedKey, q.Items[0])
	}
	q2, err := c.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String("app-leases"),
		IndexName:                 aws.String("LeaseOwnerToLeaseKeyIndex"),
		KeyConditionExpression:    aws.String("leaseOwner = :leaseOwner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":leaseOwner": s("worker-a")},
		ExclusiveStartKey:         q.LastEvaluatedKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(q2.Items) != 2 || q2.LastEvaluatedKey != nil {
		t.Fatalf("gsi second page: %d items lek %v", len(q2.Items), q2.LastEvaluatedKey)
	}

	// filtered scan as listLeasesForStream does, and COUNT
	cnt, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("app-leases"), Select: types.SelectCount,
		FilterExpression: aws.String("leaseOwner = :o"), ExpressionAttributeValues: map[string]types.AttributeValue{":o": s("worker-b")}})
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Count != 1 || cnt.ScannedCount != 7 || cnt.Items != nil {
		t.Fatalf("count scan: %d/%d %v", cnt.Count, cnt.ScannedCount, cnt.Items)
	}

	// delete with Expected on the owner
	_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("app-leases"),
		Key:      map[string]types.AttributeValue{"leaseKey": s("shardId-000000000001")},
		Expected: map[string]types.ExpectedAttributeValue{"leaseOwner": {Value: s("worker-z")}}})
	if !errors.As(err, &ccf) {
		t.Fatalf("delete with the wrong owner: %v", err)
	}
	if _, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("app-leases"),
		Key:      map[string]types.AttributeValue{"leaseKey": s("shardId-000000000001")},
		Expected: map[string]types.ExpectedAttributeValue{"leaseOwner": {Value: s("worker-a")}}}); err != nil {
		t.Fatal(err)
	}

	// PITR and tags, as KCL 3 calls them
	if _, err := c.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String("app-leases"),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	cb, err := c.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String("app-leases")})
	if err != nil || cb.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		t.Fatalf("pitr: %v %+v", err, cb)
	}
	tags, err := c.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: d.Table.TableArn})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "app" {
		t.Fatalf("tags: %v %+v", err, tags)
	}

	// deletion protection blocks DeleteTable until turned off
	if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("app-leases"), DeletionProtectionEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("app-leases")}); err == nil {
		t.Fatal("a protected table was deleted")
	}
	if _, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("app-leases"), DeletionProtectionEnabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("app-leases")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("app-leases")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("describe after delete: %v", err)
	}
}

func TestTablesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() streamcore.Store {
		fs, err := filestore.Open(filepath.Join(dir, "data"), filestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	ctx := context.Background()
	fs := open()
	e := startEnv(t, fs, Options{})
	createLeaseTable(t, e.c, "leases")
	putLease(t, e.c, "leases", "shardId-000000000000", "w1")
	putLease(t, e.c, "leases", "shardId-000000000001", "w1")
	if _, err := e.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("leases"),
		Key:              map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000")},
		AttributeUpdates: map[string]types.AttributeValueUpdate{"checkpoint": {Value: s("123")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("leases"),
		Key: map[string]types.AttributeValue{"leaseKey": s("shardId-000000000001")}}); err != nil {
		t.Fatal(err)
	}
	e.srv.Close()
	e.db.Close()
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}

	fs2 := open()
	t.Cleanup(func() { fs2.Close() })
	e2 := startEnv(t, fs2, Options{})
	g, err := e2.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("leases"),
		Key: map[string]types.AttributeValue{"leaseKey": s("shardId-000000000000")}})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := g.Item["checkpoint"].(*types.AttributeValueMemberS); !ok || v.Value != "123" {
		t.Fatalf("after restart: %+v", g.Item)
	}
	sc, err := e2.c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("leases")})
	if err != nil || len(sc.Items) != 1 {
		t.Fatalf("after restart scan: %v %d items", err, len(sc.Items))
	}
	d, err := e2.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("leases")})
	if err != nil || len(d.Table.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("after restart describe: %v", err)
	}
}

func TestTableCreatingThenActive(t *testing.T) {
	e := startEnv(t, streamcore.NewMemStore(), Options{CreatingFor: 200 * time.Millisecond})
	ctx := context.Background()
	out, err := e.c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:             aws.String("tbl1"),
		KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("key"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions:  []types.AttributeDefinition{{AttributeName: aws.String("key"), AttributeType: types.ScalarAttributeTypeS}},
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(10), WriteCapacityUnits: aws.Int64(10)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.TableDescription.TableStatus != types.TableStatusCreating {
		t.Fatalf("new table status %s", out.TableDescription.TableStatus)
	}
	w := dynamodb.NewTableExistsWaiter(e.c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("tbl1")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
