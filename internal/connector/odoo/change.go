package odoo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Change keys. A change of a record is identified by the record, the kind
// of change, its write_date cut to seconds (change capture by polling sees
// no more: search_read formats datetimes to seconds) and a hash of the
// record's values as sent, so that
//   - a webhook notification and a polled read of the same state get the
//     same key and dedupe against each other (when the watcher reads the
//     fields the webhook sends: `ipai odoo install-webhooks` prints such a
//     watcher);
//   - two changes of one record within one second differ by their values,
//     and an archive, unarchive or deletion never dedupes against the
//     record's last create or write (they differ by kind);
//   - a deletion is odoo:<model>:<id>:unlink, for the webhook and the
//     watcher's id sweep alike.
//
// Values are normalised before hashing: a many2one [id, "name"] (polling)
// counts as id (webhooks send bare ids) and datetimes are cut to seconds.
// create and write share the kind "save": polling can only tell them apart
// to the second, webhooks to the microsecond.

// ChangeKind maps an event verb to the kind in its key.
func ChangeKind(verb string) string {
	switch verb {
	case "create", "write", "create_or_write", "notify", "":
		return "save"
	}
	return verb
}

// ChangeKey is the idempotency key of one change of one record (see above):
// verb is the event's verb, writeDate Odoo's write_date in any form Odoo
// sends, values the record's fields as read or posted (keys starting with
// "_", "id", "write_date" and "create_date" are left out of the hash).
func ChangeKey(model string, id int64, verb, writeDate string, values map[string]any) string {
	kind := ChangeKind(verb)
	if kind == "unlink" {
		return UnlinkKey(model, id)
	}
	return "odoo:" + model + ":" + strconv.FormatInt(id, 10) + ":" + kind + ":" + NormalizeDatetime(writeDate) + ":" + ValuesHash(values)
}

// UnlinkKey is the key of a record's deletion.
func UnlinkKey(model string, id int64) string {
	return "odoo:" + model + ":" + strconv.FormatInt(id, 10) + ":unlink"
}

// ValuesHash is a short hash of a record's field values, normalised as
// described above.
func ValuesHash(values map[string]any) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		if k == "id" || k == "write_date" || k == "create_date" || strings.HasPrefix(k, "_") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		b, _ := json.Marshal(normValue(values[k]))
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

var datetimeRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}`)

func normValue(v any) any {
	switch x := v.(type) {
	case []any:
		if len(x) == 2 {
			if _, ok := x[1].(string); ok {
				if _, isNum := numOf(x[0]); isNum {
					return normValue(x[0]) // many2one [id, display name] → id
				}
			}
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normValue(e)
		}
		return out
	case string:
		if datetimeRe.MatchString(x) {
			return NormalizeDatetime(x)
		}
		return x
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

func numOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// NormalizeDatetime turns an Odoo datetime string into "YYYY-MM-DD HH:MM:SS".
func NormalizeDatetime(s string) string {
	s = strings.TrimSpace(strings.Replace(s, "T", " ", 1))
	if i := strings.IndexAny(s, ".+Z"); i >= 19 {
		s = s[:i]
	}
	if len(s) > 19 {
		s = s[:19]
	}
	return s
}

// NotificationValues decodes a notification body's fields.
func NotificationValues(n Notification) map[string]any {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(n.Body))
	dec.UseNumber()
	_ = dec.Decode(&doc)
	return doc
}

// NotificationKey is ChangeKey for a webhook notification. A notification
// without write_date (no fields selected) gets "" unless it is a deletion:
// the caller then dedupes by body.
func NotificationKey(n Notification) string {
	if ChangeKind(n.Action) == "unlink" {
		return UnlinkKey(n.Model, n.ID)
	}
	doc := NotificationValues(n)
	wd, _ := doc["write_date"].(string)
	if wd == "" {
		return ""
	}
	return ChangeKey(n.Model, n.ID, n.Action, wd, doc)
}

// NotificationWriteDate is the write_date a notification carries, as sent
// (Odoo's webhooks send microseconds), or "".
func NotificationWriteDate(n Notification) string {
	wd, _ := NotificationValues(n)["write_date"].(string)
	return wd
}
