package odoo

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"
)

// Namer turns the bare many2one ids of webhook payloads (Odoo reads the
// fields with load=None) into [id, "display name"] pairs, the form
// search_read and the watchers give, so that rule templates
// ({{m2o .data.partner_id}}) read the same for both. It reads the model's
// fields_get once per TTL and each related model's display names with one
// read per model and payload, caching names for NameTTL. The record itself
// is never read: Odoo posts before its transaction commits.
//
// Names are added when the event is received rather than by a template
// helper resolving ids at delivery: the stored event then carries what
// every consumer (rules, conditions, n8n, the events API, replays) reads,
// webhook and polled events look alike, and no rule needs an Odoo
// connector of its own.
type Namer struct {
	TTL     time.Duration // fields_get cache (default 10 min)
	NameTTL time.Duration // display name cache (default 1 min)

	mu     sync.Mutex
	fields map[string]fieldsEntry // scope/model → m2o fields
	names  map[string]nameEntry   // scope/model/id → display name
}

type fieldsEntry struct {
	m2o map[string]string // field → related model
	at  time.Time
}

type nameEntry struct {
	name string
	at   time.Time
}

// Enrich returns body with each many2one field holding a bare id replaced
// by [id, display name]. scope tells connectors apart in the cache. On any
// error the body is returned unchanged with the error.
func (n *Namer) Enrich(ctx context.Context, c *Client, scope, model string, body []byte) ([]byte, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return body, err
	}
	m2o, err := n.many2ones(ctx, c, scope, model)
	if err != nil {
		return body, err
	}
	want := map[string][]int{} // related model → ids
	for f, rel := range m2o {
		if id, ok := bareID(doc[f]); ok {
			want[rel] = append(want[rel], id)
		}
	}
	if len(want) == 0 {
		return body, nil
	}
	names := map[string]string{}
	rels := make([]string, 0, len(want))
	for rel := range want {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	now := time.Now()
	n.mu.Lock()
	if n.names == nil {
		n.names = map[string]nameEntry{}
	}
	var missing = map[string][]int{}
	for _, rel := range rels {
		for _, id := range want[rel] {
			k := nameKey(scope, rel, id)
			if e, ok := n.names[k]; ok && now.Sub(e.at) < n.nameTTL() {
				names[k] = e.name
			} else {
				missing[rel] = append(missing[rel], id)
			}
		}
	}
	n.mu.Unlock()
	for _, rel := range rels {
		ids := missing[rel]
		if len(ids) == 0 {
			continue
		}
		var rows []struct {
			ID   int    `json:"id"`
			Name string `json:"display_name"`
		}
		if err := c.Read(ctx, rel, ids, []string{"display_name"}, &rows); err != nil {
			return body, err
		}
		n.mu.Lock()
		for _, r := range rows {
			k := nameKey(scope, rel, r.ID)
			names[k] = r.Name
			n.names[k] = nameEntry{name: r.Name, at: now}
		}
		n.mu.Unlock()
	}
	for f, rel := range m2o {
		if id, ok := bareID(doc[f]); ok {
			if name, ok := names[nameKey(scope, rel, id)]; ok {
				doc[f] = []any{id, name}
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body, err
	}
	return out, nil
}

func (n *Namer) nameTTL() time.Duration {
	if n.NameTTL > 0 {
		return n.NameTTL
	}
	return time.Minute
}

func (n *Namer) many2ones(ctx context.Context, c *Client, scope, model string) (map[string]string, error) {
	ttl := n.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	k := scope + "\x00" + model
	n.mu.Lock()
	e, ok := n.fields[k]
	n.mu.Unlock()
	if ok && time.Since(e.at) < ttl {
		return e.m2o, nil
	}
	fields, err := c.FieldsGet(ctx, model)
	if err != nil {
		return nil, err
	}
	m2o := map[string]string{}
	for name, f := range fields {
		if f.Type == "many2one" && f.Relation != "" {
			m2o[name] = f.Relation
		}
	}
	n.mu.Lock()
	if n.fields == nil {
		n.fields = map[string]fieldsEntry{}
	}
	n.fields[k] = fieldsEntry{m2o: m2o, at: time.Now()}
	n.mu.Unlock()
	return m2o, nil
}

func nameKey(scope, model string, id int) string {
	b, _ := json.Marshal([]any{scope, model, id})
	return string(b)
}

func bareID(v any) (int, bool) {
	switch x := v.(type) {
	case json.Number:
		i, err := x.Int64()
		return int(i), err == nil && i > 0
	case float64:
		return int(x), x > 0 && x == float64(int(x))
	}
	return 0, false
}

// Authenticated says whether calls need no common.authenticate first (the
// uid is known, or the server speaks JSON-2). Odoo 18's authenticate waits
// for open transactions that changed the user's records — among them the
// one whose webhook is being received — so a webhook receiver must not
// call it while Odoo waits for the answer.
func (c *Client) Authenticated() bool {
	uid, serie := c.state()
	return uid > 0 || serie >= JSON2Serie
}
