package odoo

import (
	"encoding/json"
	"strconv"
	"strings"
)

// ChangeKey is the idempotency key of one change of one record: the same
// for a webhook notification and for change capture by polling, so the
// two paths dedupe against each other. writeDate is Odoo's write_date in
// any of the forms Odoo sends ("2026-01-02 03:04:05", with microseconds,
// or ISO with a T); it is cut to seconds.
func ChangeKey(model string, id int64, writeDate string) string {
	return "odoo:" + model + ":" + strconv.FormatInt(id, 10) + ":" + NormalizeDatetime(writeDate)
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

// NotificationKey is ChangeKey for a webhook notification that carries
// write_date; "" when it does not (the caller then dedupes by body).
func NotificationKey(n Notification) string {
	var doc struct {
		WriteDate any `json:"write_date"`
	}
	if json.Unmarshal(n.Body, &doc) != nil {
		return ""
	}
	wd, ok := doc.WriteDate.(string)
	if !ok || wd == "" {
		return ""
	}
	return ChangeKey(n.Model, n.ID, wd)
}
