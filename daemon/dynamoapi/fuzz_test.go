package dynamoapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluice-io/sluice/streamcore"
)

// FuzzRequests posts arbitrary bodies to every operation of a handler holding a lease
// table: no panics, and every reply is 200, 4xx or a 500 InternalServerError.
func FuzzRequests(f *testing.F) {
	db, err := OpenDB(context.Background(), streamcore.NewMemStore())
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	h := New(db, Options{CreatingFor: -1})
	var last string
	post := func(op, body string) int {
		req := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
		req.Header.Set("X-Amz-Target", TargetPrefix+op)
		req.Header.Set("Content-Type", ContentType)
		req.Header.Set("X-Amz-Date", "20260101T000000Z")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		last = w.Body.String()
		return w.Code
	}
	if st := post("CreateTable", `{"TableName":"fzt","KeySchema":[{"AttributeName":"k","KeyType":"HASH"},{"AttributeName":"r","KeyType":"RANGE"}],
		"AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"},{"AttributeName":"r","AttributeType":"N"},{"AttributeName":"o","AttributeType":"S"}],
		"BillingMode":"PAY_PER_REQUEST","GlobalSecondaryIndexes":[{"IndexName":"byOwner","KeySchema":[{"AttributeName":"o","KeyType":"HASH"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}]}`); st != 200 {
		f.Fatalf("create: %d %s", st, last)
	}
	ops := []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
		"CreateTable", "UpdateTable", "DescribeTable", "ListTables", "TagResource", "UpdateContinuousBackups"}
	f.Add(uint8(1), `{"TableName":"fzt","Item":{"k":{"S":"a"},"r":{"N":"1"},"o":{"S":"w"},"l":{"L":[{"M":{"x":{"NS":["1","2"]}}}]}}}`)
	f.Add(uint8(2), `{"TableName":"fzt","Key":{"k":{"S":"a"},"r":{"N":"1"}},"UpdateExpression":"SET l[0].x = :v ADD c :one","ExpressionAttributeValues":{":v":{"S":"z"},":one":{"N":"1"}},"ReturnValues":"UPDATED_NEW"}`)
	f.Add(uint8(2), `{"TableName":"fzt","Key":{"k":{"S":"a"},"r":{"N":"1"}},"Expected":{"c":{"ComparisonOperator":"BETWEEN","AttributeValueList":[{"N":"1"},{"N":"9"}]}},"AttributeUpdates":{"c":{"Action":"ADD","Value":{"N":"1"}}}}`)
	f.Add(uint8(4), `{"TableName":"fzt","KeyConditionExpression":"k = :k AND r BETWEEN :a AND :b","ExpressionAttributeValues":{":k":{"S":"a"},":a":{"N":"0"},":b":{"N":"5"}},"Limit":1,"ScanIndexForward":false}`)
	f.Add(uint8(4), `{"TableName":"fzt","IndexName":"byOwner","KeyConditions":{"o":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"w"}]}}}`)
	f.Add(uint8(5), `{"TableName":"fzt","Segment":1,"TotalSegments":3,"FilterExpression":"size(l) > :z","ExpressionAttributeValues":{":z":{"N":"0"}},"ExclusiveStartKey":{"k":{"S":"a"},"r":{"N":"0"}}}`)
	f.Add(uint8(7), `{"RequestItems":{"fzt":[{"PutRequest":{"Item":{"k":{"S":"b"},"r":{"N":"2"}}}},{"DeleteRequest":{"Key":{"k":{"S":"a"},"r":{"N":"1"}}}}]}}`)
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		st := post(ops[int(op)%len(ops)], body)
		if st != http.StatusOK && (st < 400 || st > 499) && st != 500 {
			t.Fatalf("status %d for %s", st, body)
		}
	})
}
