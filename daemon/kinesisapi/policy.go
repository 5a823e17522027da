package kinesisapi

import (
	"encoding/json"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-io/sluice/daemon/awsproto"
)

// Resource policies (Put/Get/DeleteResourcePolicy) are evaluated together with the
// configured credential's policy when auth is on, as IAM does: an explicit Deny in either
// wins; within the caller's account the call is allowed if either policy allows it; on a
// resource of another account both must (the stream's policy has to grant the caller's
// account or user). A statement applies only when its Condition block holds
// (policy_cond.go). PutResourcePolicy refuses a document Sluice could not evaluate.

type policyStatement struct {
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	Action    json.RawMessage `json:"Action"`
	Resource  json.RawMessage `json:"Resource"`
	Condition json.RawMessage `json:"Condition"`
	conds     []condition
	vars      bool // policy variables are substituted (policy_vars.go)
}

type policyDoc struct {
	Version   string          `json:"Version"`
	Statement json.RawMessage `json:"Statement"`
}

// stringsOf reads a JSON string or list of strings.
func stringsOf(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}

func principalsOf(raw json.RawMessage) []string {
	if s := stringsOf(raw); s != nil {
		return s
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return stringsOf(m["AWS"])
}

// parsePolicy reads a policy document; the error says which part is not valid.
func parsePolicy(doc string) ([]policyStatement, error) {
	var d policyDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	var list []policyStatement
	if json.Unmarshal(d.Statement, &list) != nil {
		var one policyStatement
		if err := json.Unmarshal(d.Statement, &one); err != nil || len(d.Statement) == 0 {
			return nil, fmt.Errorf("Statement must be a statement object or a list of them")
		}
		list = []policyStatement{one}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("Statement is empty")
	}
	for i := range list {
		st := &list[i]
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, fmt.Errorf("Statement %d: Effect must be Allow or Deny, not %q", i, st.Effect)
		}
		if len(principalsOf(st.Principal)) == 0 {
			return nil, fmt.Errorf("Statement %d: Principal must name at least one principal", i)
		}
		if len(stringsOf(st.Action)) == 0 {
			return nil, fmt.Errorf("Statement %d: Action must name at least one action", i)
		}
		conds, err := parseConditions(st.Condition)
		if err != nil {
			return nil, fmt.Errorf("Statement %d: %v", i, err)
		}
		st.vars = d.Version == policyVarsVersion
		for j := range conds {
			conds[j].vars = st.vars
		}
		st.conds = conds
	}
	return list, nil
}

func globMatch(pattern, s string) bool {
	if pattern == "*" || pattern == s {
		return true
	}
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// resourceMatches reports whether one of a statement's Resource patterns (with policy
// variables substituted when vars) matches resource.
func resourceMatches(patterns []string, resource string, vars bool, ctx condContext) bool {
	for _, p := range patterns {
		if vars {
			var ok bool
			if p, ok = expandVars(p, ctx); !ok {
				continue
			}
		}
		if globMatch(p, resource) {
			return true
		}
	}
	return false
}

// evaluate returns whether the statements allow or explicitly deny the call; ctx answers
// the condition keys of the request.
func evaluate(stmts []policyStatement, id awsproto.Identity, action, resource string, ctx condContext) (allow, deny bool) {
	who := []string{id.Account, id.AccessKeyID, "arn:aws:iam::" + id.Account + ":root", "arn:aws:iam::" + id.Account + ":user/" + id.AccessKeyID}
	for _, st := range stmts {
		ps := principalsOf(st.Principal)
		pm := false
		for _, p := range ps {
			if p == "*" {
				pm = true
			}
			for _, w := range who {
				pm = pm || p == w
			}
		}
		if !pm || !anyGlob(stringsOf(st.Action), action) {
			continue
		}
		if res := stringsOf(st.Resource); len(res) > 0 && !resourceMatches(res, resource, st.vars, ctx) {
			continue
		}
		if !conditionsHold(st.conds, ctx) {
			continue
		}
		switch st.Effect {
		case "Deny":
			deny = true
		case "Allow":
			allow = true
		}
	}
	return allow, deny
}

// policyCache keeps resource policies for a second so that hot calls do not re-read them.
type policyCache struct {
	mu sync.Mutex
	m  map[string]cachedPolicy
}

type cachedPolicy struct {
	stmts []policyStatement
	at    time.Time
}

func (c *policyCache) invalidate(arn string) {
	c.mu.Lock()
	delete(c.m, arn)
	c.mu.Unlock()
}

func (h *handler) policyFor(rc *reqCtx, arn string) []policyStatement {
	h.policies.mu.Lock()
	if h.policies.m == nil {
		h.policies.m = map[string]cachedPolicy{}
	}
	if p, ok := h.policies.m[arn]; ok && time.Since(p.at) < time.Second {
		h.policies.mu.Unlock()
		return p.stmts
	}
	h.policies.mu.Unlock()
	doc, err := h.eng.GetResourcePolicy(rc.ctx, arn)
	var stmts []policyStatement
	if err == nil && doc != "" {
		stmts, _ = parsePolicy(doc) // checked by PutResourcePolicy
	}
	h.policies.mu.Lock()
	h.policies.m[arn] = cachedPolicy{stmts: stmts, at: time.Now()}
	h.policies.mu.Unlock()
	return stmts
}

// authorize checks the caller's credential policy and the resource policies of resource
// (and, for a consumer, of its stream) for op.
func (rc *reqCtx) authorize(op, resource string) *awsproto.Error {
	if e := rc.controlQuota(op, resource); e != nil {
		return e
	}
	action := "kinesis:" + op
	id := rc.id
	if id.Cred == nil {
		return nil
	}
	identityAllows := id.Allowed(action, resource)
	var allow, deny bool
	if resource != "" && rc.h != nil {
		arns := []string{resource}
		if i := strings.Index(resource, "/consumer/"); i >= 0 {
			arns = append(arns, resource[:i])
		}
		for _, arn := range arns {
			a, d := evaluate(rc.h.policyFor(rc, arn), id, action, resource, rc.condContext(resource))
			allow, deny = allow || a, deny || d
		}
	}
	if deny {
		return id.DeniedBecause(action, resource, "with an explicit deny in a resource-based policy")
	}
	if !identityAllows {
		if allow && !crossAccount(id, resource) {
			return nil
		}
		return id.DeniedError(action, resource)
	}
	if !allow && crossAccount(id, resource) {
		return id.DeniedBecause(action, resource, "because no resource-based policy allows the "+action+" action")
	}
	return nil
}

// crossAccount reports whether resource (an ARN) belongs to another account than the
// caller's.
func crossAccount(id awsproto.Identity, resource string) bool {
	parts := strings.SplitN(resource, ":", 6)
	return len(parts) == 6 && parts[4] != "" && parts[4] != id.Account
}

// condContext answers the global condition keys Sluice can tell for this request on
// resource: aws:ResourceTag/<key> from the resource's tags (read once, when a condition
// asks), aws:RequestTag/<key> and aws:TagKeys from a tagging call, and the keys of
// globalCondKey.
func (rc *reqCtx) condContext(resource string) condContext {
	var tags map[string]string
	return func(key string) ([]string, bool) {
		if tagKey, ok := strings.CutPrefix(key, "aws:resourcetag/"); ok {
			if tags == nil {
				tags, _ = rc.h.eng.ListTags(rc.ctx, resource)
			}
			return tagValue(tags, tagKey)
		}
		if tagKey, ok := strings.CutPrefix(key, "aws:requesttag/"); ok {
			return tagValue(rc.reqTags, tagKey)
		}
		if key == "aws:tagkeys" {
			return rc.tagKeys, rc.tagKeys != nil
		}
		return rc.globalCondKey(key)
	}
}

// tagValue looks a tag up by key, ignoring case as condition keys do.
func tagValue(tags map[string]string, key string) ([]string, bool) {
	for k, v := range tags {
		if strings.EqualFold(k, key) {
			return []string{v}, true
		}
	}
	return nil, false
}

func (rc *reqCtx) globalCondKey(key string) ([]string, bool) {
	id := rc.id
	one := func(v string) ([]string, bool) { return []string{v}, true }
	switch key {
	case "aws:sourceip":
		if rc.r == nil {
			return nil, false
		}
		host, _, err := net.SplitHostPort(rc.r.RemoteAddr)
		if err != nil {
			return nil, false
		}
		return one(host)
	case "aws:securetransport":
		return one(strconv.FormatBool(rc.r != nil && rc.r.TLS != nil))
	case "aws:currenttime":
		return one(rc.h.now().UTC().Format(time.RFC3339))
	case "aws:epochtime":
		return one(strconv.FormatInt(rc.h.now().Unix(), 10))
	case "aws:principalaccount":
		return one(id.Account)
	case "aws:principalarn":
		return one("arn:aws:iam::" + id.Account + ":user/" + id.AccessKeyID)
	case "aws:principaltype":
		return one("User")
	case "aws:username", "aws:userid":
		return one(id.AccessKeyID)
	case "aws:requestedregion":
		return one(id.Region)
	case "aws:useragent":
		if rc.r == nil || rc.r.UserAgent() == "" {
			return nil, false
		}
		return one(rc.r.UserAgent())
	case "aws:principalisawsservice", "aws:viaawsservice":
		return one("false")
	}
	return nil, false
}
