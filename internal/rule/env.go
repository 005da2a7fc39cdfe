package rule

import (
	"bytes"
	"encoding/json"
	"math"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/insightpulseai/ipai/internal/store"
)

// Env is what conditions and templates see of an event: id, type, source,
// hook_id, received_at and data (the parsed payload; numbers that are whole
// become int, others float64).
func Env(ev *store.Event) map[string]any {
	return map[string]any{
		"id": ev.ID, "type": ev.Type, "source": ev.Source, "hook_id": ev.HookID,
		"received_at": ev.ReceivedAt, "data": ParsePayload(ev.Payload),
	}
}

// ParsePayload decodes a JSON payload for conditions and templates; a
// payload that is not JSON is returned as a string.
func ParsePayload(payload string) any {
	dec := json.NewDecoder(bytes.NewReader([]byte(payload)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return payload
	}
	return normalize(v)
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return x.String()
		}
		return f
	}
	return v
}

// sampleEnv types the variables for compile-time checks.
var sampleEnv = map[string]any{
	"id": "", "type": "", "source": "", "hook_id": "", "received_at": time.Time{}, "data": map[string]any{},
}

// programs caches compiled expressions by kind and source text.
var programs sync.Map // string -> *vm.Program

// compileExpr compiles an expression over Env; asBool requires a boolean.
func compileExpr(src string, asBool bool) (*vm.Program, error) {
	key := "a:" + src
	if asBool {
		key = "b:" + src
	}
	if p, ok := programs.Load(key); ok {
		return p.(*vm.Program), nil
	}
	opts := []expr.Option{expr.Env(sampleEnv)}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, err
	}
	programs.Store(key, p)
	return p, nil
}

// toFloat converts a number-like value (as decoded from JSON or computed by
// expr) to float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		var f float64
		if err := json.Unmarshal([]byte(x), &f); err == nil {
			return f, true
		}
	}
	return 0, false
}
