package n8n

import (
	"encoding/json"
	"fmt"
)

// settingsKeys are the keys the public API accepts in a workflow's settings
// (its schema is closed: any other key is a 400).
var settingsKeys = map[string]bool{
	"saveExecutionProgress": true, "saveManualExecutions": true, "saveDataErrorExecution": true,
	"saveDataSuccessExecution": true, "executionTimeout": true, "errorWorkflow": true, "timezone": true,
	"executionOrder": true, "binaryMode": true, "callerPolicy": true, "callerIds": true, "timeSavedMode": true,
	"timeSavedPerExecution": true, "redactionPolicy": true, "availableInMCP": true, "customTelemetryTags": true,
	"credentialResolverId": true,
}

// Writable turns a workflow (a Workflow, raw JSON, or a map) into a body the
// public API accepts on create/replace: name, nodes, connections, settings
// (known keys only), and staticData / pinData / description when set.
// Read-only fields (id, active, createdAt, versionId, tags, …) are dropped.
func Writable(wf any) (map[string]any, error) {
	var m map[string]any
	switch v := wf.(type) {
	case map[string]any:
		m = v
	default:
		b, ok := v.([]byte)
		if !ok {
			if r, isRaw := v.(json.RawMessage); isRaw {
				b, ok = r, true
			}
		}
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				return nil, fmt.Errorf("encode workflow: %w", err)
			}
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("workflow JSON: %w", err)
		}
	}
	name, _ := m["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("workflow has no name")
	}
	out := map[string]any{"name": name, "nodes": m["nodes"], "connections": m["connections"]}
	if out["nodes"] == nil {
		out["nodes"] = []any{}
	}
	if out["connections"] == nil {
		out["connections"] = map[string]any{}
	}
	settings := map[string]any{}
	if s, ok := m["settings"].(map[string]any); ok {
		for k, v := range s {
			if settingsKeys[k] {
				settings[k] = v
			}
		}
	}
	out["settings"] = settings
	if sd, ok := m["staticData"].(map[string]any); ok {
		out["staticData"] = sd
	}
	if pd, ok := m["pinData"].(map[string]any); ok && len(pd) > 0 {
		out["pinData"] = pd
	}
	if d, ok := m["description"].(string); ok && d != "" {
		out["description"] = d
	}
	return out, nil
}
