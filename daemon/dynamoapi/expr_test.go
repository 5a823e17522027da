package dynamoapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func mustItem(t testing.TB, js string) Item {
	t.Helper()
	var it Item
	if err := json.Unmarshal([]byte(js), &it); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return it
}

func mustValues(t testing.TB, js string) map[string]AV {
	t.Helper()
	var m map[string]AV
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return m
}

// The product item of DynamoDB's expression documentation (ProductCatalog).
const product = `{
 "Id":{"N":"123"}, "Title":{"S":"Bicycle 123"}, "Description":{"S":"123 description"},
 "BicycleType":{"S":"Hybrid"}, "Brand":{"S":"Brand-Company C"}, "Price":{"N":"500"},
 "Color":{"SS":["Red","Black"]}, "ProductCategory":{"S":"Bicycle"}, "InStock":{"BOOL":true},
 "QuantityOnHand":{"NULL":true},
 "RelatedItems":{"L":[{"N":"341"},{"N":"472"},{"N":"649"}]},
 "Pictures":{"M":{"FrontView":{"S":"http://example.com/products/123_front.jpg"},
   "RearView":{"S":"http://example.com/products/123_rear.jpg"},
   "SideView":{"S":"http://example.com/products/123_left_side.jpg"}}},
 "ProductReviews":{"M":{"FiveStar":{"L":[{"S":"Excellent! Can't recommend it highly enough! Buy it!"},{"S":"Do yourself a favor and buy this."}]},
   "OneStar":{"L":[{"S":"Terrible product! Do not buy this."}]}}},
 "Comment":{"S":"This product sells out quickly during the summer"},
 "Safety.Warning":{"S":"Always wear a helmet"}
}`

func TestConditionExamples(t *testing.T) {
	item := mustItem(t, product)
	vals := mustValues(t, `{":p":{"N":"500"}, ":lo":{"N":"100"}, ":hi":{"N":"600"}, ":c1":{"S":"Black"}, ":c2":{"S":"Green"},
		":cat":{"S":"Sporting Goods"}, ":v_sub":{"S":"http://"}, ":t":{"S":"SS"}, ":l":{"S":"L"}, ":n":{"N":"3"}, ":big":{"N":"1e3"},
		":red":{"S":"Red"}, ":s":{"S":"summer"}, ":yes":{"BOOL":true}, ":ids":{"N":"472"}}`)
	names := map[string]string{"#sw": "Safety.Warning", "#pr": "ProductReviews", "#1s": "OneStar", "#c": "Comment"}
	cases := []struct {
		expr string
		want bool
	}{
		{"Price = :p", true},
		{"Price <> :p", false},
		{"Price BETWEEN :lo AND :hi", true},
		{"Price > :hi OR Price < :lo", false},
		{"NOT (Price > :hi OR Price < :lo)", true},
		{"Price < :big", true}, // numbers compare numerically: 500 < 1000
		{"attribute_exists(Pictures.SideView)", true},
		{"attribute_not_exists(Manufacturer)", true},
		{"attribute_exists(#pr.#1s)", true},
		{"attribute_exists(#pr.ThreeStar)", false},
		{"attribute_type(Color, :t)", true},
		{"attribute_type(RelatedItems, :l)", true},
		{"begins_with(Pictures.FrontView, :v_sub)", true},
		{"contains(Color, :c1)", true},
		{"contains(Color, :c2)", false},
		{"contains(#c, :s)", true},
		{"contains(RelatedItems, :ids)", true},
		{"size(RelatedItems) = :n", true},
		{"size(Color) < :n", true},
		{"ProductCategory IN (:cat, :c1)", false},
		{"Color IN (:c1)", false},
		{"attribute_exists(#sw)", true},
		{"attribute_exists(Safety.Warning)", false}, // a dot is a map step
		{"RelatedItems[1] = :ids", true},
		{"RelatedItems[7] = :ids", false},
		{"InStock = :yes AND (Price >= :p AND Price <= :p)", true},
		{"Manufacturer <> :p", true}, // a missing attribute equals nothing
		{"Manufacturer = :p", false},
		{"Title < :c1", true},   // strings compare by UTF-8 bytes: "Bi…" < "Bl…"
		{"Price > :red", false}, // mixed types never compare
		{"attribute_exists(QuantityOnHand) AND NOT attribute_exists(Discontinued)", true},
		{"a = :p OR b = :p AND c = :p", false},
	}
	for _, c := range cases {
		ctx := newExprCtx(names, vals)
		cond, msg := parseConditionExpr("ConditionExpression", c.expr, ctx)
		if msg != "" {
			t.Errorf("%q: %s", c.expr, msg)
			continue
		}
		if got := evalCond(item, cond); got != c.want {
			t.Errorf("%q = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestConditionSyntaxErrors(t *testing.T) {
	vals := mustValues(t, `{":v":{"N":"1"}, ":t":{"S":"XX"}}`)
	cases := map[string]string{
		"":                      "The expression can not be empty",
		"a = ":                  `token: "<EOF>"`,
		"a = :undefined":        "An expression attribute value used in expression is not defined; attribute value: :undefined",
		"#x = :v":               "An expression attribute name used in the document path is not defined; attribute name: #x",
		"a == :v":               "Syntax error",
		"frobnicate(a)":         "Invalid function name; function: frobnicate",
		"size(a)":               "The function is not allowed to be used this way",
		"attribute_type(a, :t)": "Invalid attribute type name found; type: XX",
		"a = :v AND":            "Syntax error",
		"(a = :v":               "Syntax error",
		"a[x] = :v":             "Syntax error",
		"a = :v $":              "Invalid character encountered",
		"a BETWEEN :v :v":       "Syntax error",
		"1a = :v":               "Syntax error",
	}
	for expr, want := range cases {
		_, msg := parseConditionExpr("ConditionExpression", expr, newExprCtx(nil, vals))
		if !strings.Contains(msg, want) || !strings.HasPrefix(msg, "Invalid ConditionExpression: ") {
			t.Errorf("%q: got %q, want it to contain %q", expr, msg, want)
		}
	}
}

func TestUpdateExamples(t *testing.T) {
	vals := mustValues(t, `{":p":{"N":"100"}, ":one":{"N":"1"}, ":r":{"L":[{"S":"Hammer"}]}, ":c":{"SS":["Orange","Purple"]},
		":d":{"SS":["Red"]}, ":pic":{"S":"http://example.com/products/206_rear.jpg"}, ":zero":{"N":"0"},
		":frac":{"N":"0.1"}, ":s":{"S":"x"}, ":n5":{"NS":["5"]}}`)
	names := map[string]string{"#pr": "ProductReviews", "#ri": "RelatedItems"}
	cases := []struct {
		expr, check string // check: the attribute that must now hold want
		want        string
	}{
		{"SET Price = Price - :p", "Price", `{"N":"400"}`},
		{"SET Price = :p + :frac", "Price", `{"N":"100.1"}`},
		{"SET #ri = list_append(#ri, :r)", "RelatedItems", `{"L":[{"N":"341"},{"N":"472"},{"N":"649"},{"S":"Hammer"}]}`},
		{"SET #ri = list_append(:r, #ri)", "RelatedItems", `{"L":[{"S":"Hammer"},{"N":"341"},{"N":"472"},{"N":"649"}]}`},
		{"SET Stock = if_not_exists(Stock, :zero) + :one", "Stock", `{"N":"1"}`},
		{"SET Price = if_not_exists(Price, :zero)", "Price", `{"N":"500"}`},
		{"SET Pictures.RearView = :pic", "Pictures", `{"M":{"FrontView":{"S":"http://example.com/products/123_front.jpg"},"RearView":{"S":"http://example.com/products/206_rear.jpg"},"SideView":{"S":"http://example.com/products/123_left_side.jpg"}}}`},
		{"SET #ri[1] = :s", "RelatedItems", `{"L":[{"N":"341"},{"S":"x"},{"N":"649"}]}`},
		{"SET #ri[9] = :s", "RelatedItems", `{"L":[{"N":"341"},{"N":"472"},{"N":"649"},{"S":"x"}]}`},
		{"REMOVE #ri[1], #ri[2]", "RelatedItems", `{"L":[{"N":"341"}]}`},
		{"REMOVE #pr.OneStar", "ProductReviews", `{"M":{"FiveStar":{"L":[{"S":"Excellent! Can't recommend it highly enough! Buy it!"},{"S":"Do yourself a favor and buy this."}]}}}`},
		{"ADD QuantityOnHand2 :one", "QuantityOnHand2", `{"N":"1"}`},
		{"ADD Price :one", "Price", `{"N":"501"}`},
		{"ADD Color :c", "Color", `{"SS":["Red","Black","Orange","Purple"]}`},
		{"DELETE Color :d", "Color", `{"SS":["Black"]}`},
		{"SET Price = Price + :one REMOVE Brand ADD Views :one", "Views", `{"N":"1"}`},
		{"set a = :one remove Brand", "a", `{"N":"1"}`},
	}
	for _, c := range cases {
		old := mustItem(t, product)
		ctx := newExprCtx(names, vals)
		u, msg := parseUpdate(c.expr, ctx)
		if msg != "" {
			t.Errorf("%q: %s", c.expr, msg)
			continue
		}
		nw, _, e := applyUpdate(old, u)
		if e != "" {
			t.Errorf("%q: %s", c.expr, e)
			continue
		}
		got, _ := json.Marshal(nw[c.check])
		if string(got) != c.want {
			t.Errorf("%q: %s = %s, want %s", c.expr, c.check, got, c.want)
		}
		// the old item is never changed in place
		if again := mustItem(t, product); !(Item{"x": AV{Kind: KindM, M: again}}["x"].equal(AV{Kind: KindM, M: old})) {
			t.Errorf("%q changed the old item", c.expr)
		}
	}
}

func TestUpdateErrors(t *testing.T) {
	vals := mustValues(t, `{":one":{"N":"1"}, ":s":{"S":"x"}}`)
	parseCases := map[string]string{
		"SET a = :one SET b = :one": `The "SET" section can only be used once`,
		"SET a = :one, a = :s":      "Two document paths overlap",
		"SET a = :one REMOVE a.b":   "Two document paths overlap",
		"SET a = size(b)":           "not allowed in an update expression; function: size",
		"ADD a b":                   "Syntax error",
		"FROB a":                    "Syntax error",
	}
	for expr, want := range parseCases {
		_, msg := parseUpdate(expr, newExprCtx(nil, vals))
		if !strings.Contains(msg, want) {
			t.Errorf("%q: got %q, want %q", expr, msg, want)
		}
	}
	item := mustItem(t, product)
	applyCases := map[string]string{
		"SET Price = Title + :one":         "incorrect data type",
		"SET Price = Nope + :one":          "refers to an attribute that does not exist",
		"SET Nope.Deeper = :one":           "document path provided in the update expression is invalid",
		"ADD Title :one":                   "incorrect data type",
		"ADD Price :s":                     "operator: ADD, operand type: STRING",
		"SET x = list_append(Price, :one)": "list_append",
	}
	for expr, want := range applyCases {
		u, msg := parseUpdate(expr, newExprCtx(nil, vals))
		if msg != "" {
			t.Errorf("%q: parse: %s", expr, msg)
			continue
		}
		_, _, e := applyUpdate(item, u)
		if !strings.Contains(string(e), want) {
			t.Errorf("%q: got %q, want %q", expr, e, want)
		}
	}
}

func TestProjection(t *testing.T) {
	item := mustItem(t, product)
	paths, msg := parseProjection("Title, Pictures.RearView, RelatedItems[2], #pr.OneStar", newExprCtx(map[string]string{"#pr": "ProductReviews"}, nil))
	if msg != "" {
		t.Fatal(msg)
	}
	got, _ := json.Marshal(project(item, paths))
	want := `{"Pictures":{"M":{"RearView":{"S":"http://example.com/products/123_rear.jpg"}}},"ProductReviews":{"M":{"OneStar":{"L":[{"S":"Terrible product! Do not buy this."}]}}},"RelatedItems":{"L":[{"N":"649"}]},"Title":{"S":"Bicycle 123"}}`
	if string(got) != want {
		t.Fatalf("projection\n got %s\nwant %s", got, want)
	}
}

func TestNumbers(t *testing.T) {
	cases := map[string]string{"01": "1", "1.50": "1.5", "1e2": "100", "-0.0": "0", "1.5E-3": "0.0015", "+7": "7",
		"123456789012345678901234567890.12345678": "123456789012345678901234567890.12345678"}
	for in, want := range cases {
		got, msg := canonicalNumber(in)
		if msg != "" || got != want {
			t.Errorf("%s → %q %q, want %s", in, got, msg, want)
		}
	}
	for _, bad := range []string{"", "abc", "1e", "1..2", "--1", "0x10", "1e126", "123456789012345678901234567890123456789"} {
		if _, msg := canonicalNumber(bad); msg == "" {
			t.Errorf("%q accepted", bad)
		}
	}
	a, _ := parseNumber("0.1")
	b, _ := parseNumber("0.2")
	if s, _ := addNumbers(a, b, false); s.String() != "0.3" {
		t.Fatalf("0.1+0.2 = %s", s)
	}
	if s, _ := addNumbers(a, b, true); s.String() != "-0.1" {
		t.Fatalf("0.1-0.2 = %s", s)
	}
}

// FuzzExpressions feeds the parsers arbitrary expressions: no panics, and whatever
// parses evaluates and applies without panicking on a rich item.
func FuzzExpressions(f *testing.F) {
	for _, s := range []string{
		"attribute_exists(leaseKey) AND #o = :v", "a BETWEEN :v AND :w OR NOT (b IN (:v, :w))",
		"size(a[0].b) > :v", "SET a = if_not_exists(a, :v) + :w REMOVE b[1] ADD c :v DELETE d :w",
		"SET l = list_append(l, :w)", "begins_with(#o, :w) AND contains(l, :v)", "a.b[3].c, #o",
		"((((a = :v))))", "SET a[99999999999999999999] = :v",
	} {
		f.Add(s)
	}
	item := mustItem(f, product)
	item["a"] = AV{Kind: KindL, L: []AV{{Kind: KindM, M: map[string]AV{"b": {Kind: KindN, S: "1"}}}}}
	vals := mustValues(f, `{":v":{"N":"1"},":w":{"L":[{"S":"x"}]}}`)
	names := map[string]string{"#o": "Title"}
	f.Fuzz(func(t *testing.T, s string) {
		if c, msg := parseConditionExpr("ConditionExpression", s, newExprCtx(names, vals)); msg == "" {
			evalCond(item, c)
			evalCond(nil, c)
		}
		if u, msg := parseUpdate(s, newExprCtx(names, vals)); msg == "" {
			applyUpdate(item, u)
			applyUpdate(nil, u)
		}
		if p, msg := parseProjection(s, newExprCtx(names, vals)); msg == "" {
			project(item, p)
		}
	})
}

// FuzzAttributeValue decodes arbitrary JSON as an item and re-encodes it: the encoding
// must decode to an equal item.
func FuzzAttributeValue(f *testing.F) {
	f.Add(product)
	f.Add(`{"a":{"NS":["1","01"]},"b":{"B":"AAE="},"c":{"BS":["AA=="]},"d":{"S":"\u00e9\"x"}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var it Item
		if json.Unmarshal([]byte(s), &it) != nil {
			return
		}
		b, _ := json.Marshal(it)
		var again Item
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		if !(AV{Kind: KindM, M: it}).equal(AV{Kind: KindM, M: again}) {
			t.Fatalf("round trip changed %s → %s", s, b)
		}
	})
}

func TestUpdatedReturnValues(t *testing.T) {
	e := memEnv(t)
	createLeaseTable(t, e.c, "rv-leases")
	putLease(t, e.c, "rv-leases", "k1", "w")
	out, err := e.c.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String("rv-leases"), Key: map[string]types.AttributeValue{"leaseKey": s("k1")},
		UpdateExpression:          aws.String("SET leaseCounter = leaseCounter + :one REMOVE checkpoint"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")},
		ReturnValues:              types.ReturnValueUpdatedOld,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Attributes) != 2 || out.Attributes["checkpoint"] == nil || out.Attributes["leaseCounter"].(*types.AttributeValueMemberN).Value != "0" {
		t.Fatalf("UPDATED_OLD: %+v", out.Attributes)
	}
	out, err = e.c.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String("rv-leases"), Key: map[string]types.AttributeValue{"leaseKey": s("k1")},
		UpdateExpression:          aws.String("SET leaseCounter = leaseCounter + :one REMOVE leaseOwner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n("1")},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Attributes) != 1 || out.Attributes["leaseCounter"].(*types.AttributeValueMemberN).Value != "2" {
		t.Fatalf("UPDATED_NEW: %+v", out.Attributes)
	}
}
