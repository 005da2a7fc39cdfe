package odoo_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/insightpulseai/ipai/internal/fake/odoo"
)

// A record method called without ids fails as call_kw indexing its args
// does on the real servers: a tuple on Odoo 18, a list on 19.
func TestRecordMethodWithoutIDs(t *testing.T) {
	for serie, want := range map[string]string{"18.0": "tuple index out of range", "19.0": "list index out of range"} {
		s := odoo.New()
		s.SetSerie(serie)
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "call", "id": 1, "params": map[string]any{
			"service": "object", "method": "execute_kw",
			"args": []any{odoo.DB, odoo.AdminUID, odoo.APIKey, "res.partner", "read", []any{}}}})
		resp, err := http.Post(s.URL+"/jsonrpc", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Error struct {
				Data struct{ Name, Message string }
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		s.Close()
		if out.Error.Data.Name != "builtins.IndexError" || out.Error.Data.Message != want {
			t.Errorf("%s: %+v, want IndexError %q", serie, out.Error.Data, want)
		}
	}
}
