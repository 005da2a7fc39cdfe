package mcpserver

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The finance tools of the original odoo-erp-server (real-system.md §3.1).
func (o *odooServer) addFinance(s *mcp.Server) {
	e := o.env
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_account_list_journals", Description: "List accounting journals, optionally of one type (sale, purchase, cash, bank, general)."}, o.listJournals)
	addTool(e, s, Odoo, true, &mcp.Tool{Name: "odoo_account_create_journal_entry", Description: "Create a draft journal entry (account.move of type entry). Lines must balance: total debit = total credit."}, o.createJournalEntry)
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_account_ap_aging", Description: "Accounts payable aging: open posted vendor bills by days overdue as of a date, in buckets (default 0/30/60/90)."}, o.apAging)
	addTool(e, s, Odoo, false, &mcp.Tool{Name: "odoo_bir_deadlines", Description: "Upcoming BIR tax filing deadlines (bir.filing_deadline) within a number of days."}, o.birDeadlines)
}

type journalsIn struct {
	Type string `json:"type,omitempty" jsonschema:"sale, purchase, cash, bank or general"`
}

func (o *odooServer) listJournals(ctx context.Context, c *Call, in journalsIn) (recordsOut, error) {
	const model = "account.journal"
	if err := o.policy.CanRead(model); err != nil {
		return recordsOut{}, err
	}
	var dom []any
	if in.Type != "" {
		dom = []any{[]any{"type", "=", in.Type}}
	}
	var recs []map[string]any
	if err := o.c.SearchRead(ctx, model, dom, map[string]any{"fields": []string{"name", "code", "type", "company_id"}, "order": "code asc"}, &recs); err != nil {
		return recordsOut{}, odooErr(err)
	}
	return recordsOut{Model: model, Count: len(recs), Records: nonNil(recs)}, nil
}

type journalLine struct {
	AccountID int     `json:"account_id" jsonschema:"account.account id"`
	Name      string  `json:"name,omitempty" jsonschema:"label of the line"`
	Debit     float64 `json:"debit,omitempty"`
	Credit    float64 `json:"credit,omitempty"`
	PartnerID int     `json:"partner_id,omitempty"`
}

type journalEntryIn struct {
	Date      string        `json:"date" jsonschema:"accounting date YYYY-MM-DD"`
	JournalID int           `json:"journal_id" jsonschema:"account.journal id (see odoo_account_list_journals)"`
	Ref       string        `json:"ref,omitempty" jsonschema:"reference"`
	Lines     []journalLine `json:"lines" jsonschema:"at least two lines; total debit must equal total credit"`
	DryRun    bool          `json:"dry_run,omitempty" jsonschema:"when true, show exactly what would change and change nothing"`
}

type journalEntryOut struct {
	DryRun  bool           `json:"dry_run"`
	Applied bool           `json:"applied"`
	ID      int            `json:"id,omitempty"`
	Debit   float64        `json:"total_debit"`
	Credit  float64        `json:"total_credit"`
	Values  map[string]any `json:"values"`
}

// cents rounds an amount to the cent, as Odoo's currency rounding would.
func cents(x float64) int64 { return int64(math.Round(x * 100)) }

func (in journalEntryIn) validate() (debit, credit int64, err error) {
	if _, err := time.Parse("2006-01-02", in.Date); err != nil {
		return 0, 0, fmt.Errorf("date %q: use YYYY-MM-DD", in.Date)
	}
	if in.JournalID <= 0 {
		return 0, 0, fmt.Errorf("journal_id: give the journal's id (see odoo_account_list_journals)")
	}
	if len(in.Lines) < 2 {
		return 0, 0, fmt.Errorf("lines: a journal entry needs at least two lines (one debit, one credit)")
	}
	for i, l := range in.Lines {
		if l.AccountID <= 0 {
			return 0, 0, fmt.Errorf("lines[%d]: account_id is required", i)
		}
		if l.Debit < 0 || l.Credit < 0 || (l.Debit > 0) == (l.Credit > 0) {
			return 0, 0, fmt.Errorf("lines[%d]: give either a positive debit or a positive credit, not both or neither", i)
		}
		debit += cents(l.Debit)
		credit += cents(l.Credit)
	}
	if debit != credit {
		return debit, credit, fmt.Errorf("the entry does not balance: total debit %.2f ≠ total credit %.2f (difference %.2f); fix the lines",
			float64(debit)/100, float64(credit)/100, float64(debit-credit)/100)
	}
	return debit, credit, nil
}

func (o *odooServer) createJournalEntry(ctx context.Context, c *Call, in journalEntryIn) (journalEntryOut, error) {
	const model = "account.move"
	if err := o.policy.CanWrite(model); err != nil {
		return journalEntryOut{}, err
	}
	debit, credit, err := in.validate()
	if err != nil {
		return journalEntryOut{}, err
	}
	var lines []any
	for _, l := range in.Lines {
		v := map[string]any{"account_id": l.AccountID, "name": l.Name, "debit": l.Debit, "credit": l.Credit}
		if l.PartnerID > 0 {
			v["partner_id"] = l.PartnerID
		}
		lines = append(lines, []any{0, 0, v})
	}
	vals := map[string]any{"move_type": "entry", "date": in.Date, "journal_id": in.JournalID, "ref": in.Ref, "line_ids": lines}
	out := journalEntryOut{DryRun: c.DryRun, Debit: float64(debit) / 100, Credit: float64(credit) / 100, Values: vals}
	c.Target("odoo:" + model)
	if c.DryRun {
		return out, nil
	}
	id, err := o.c.Create(ctx, model, vals)
	if err != nil {
		return journalEntryOut{}, odooErr(err)
	}
	c.Target(fmt.Sprintf("odoo:%s/%d", model, id))
	out.Applied, out.ID = true, id
	return out, nil
}

type agingIn struct {
	AsOfDate       string `json:"as_of_date,omitempty" jsonschema:"YYYY-MM-DD; default today"`
	Buckets        []int  `json:"buckets,omitempty" jsonschema:"bucket starts in days overdue; default [0,30,60,90]"`
	PartnerID      int    `json:"partner_id,omitempty" jsonschema:"only this vendor"`
	IncludeDetails bool   `json:"include_details,omitempty" jsonschema:"list the bills in each bucket"`
}

type agingBucket struct {
	Label  string           `json:"label"`
	Total  float64          `json:"total"`
	Count  int              `json:"count"`
	Bills  []map[string]any `json:"bills,omitempty"`
	minDay int
}

type agingOut struct {
	AsOf    string        `json:"as_of"`
	Total   float64       `json:"total"`
	Buckets []agingBucket `json:"buckets"`
}

func agingBuckets(starts []int) []agingBucket {
	if len(starts) == 0 {
		starts = []int{0, 30, 60, 90}
	}
	s := append([]int(nil), starts...)
	sort.Ints(s)
	var out []agingBucket
	if s[0] > 0 {
		s = append([]int{0}, s...)
	}
	out = append(out, agingBucket{Label: "current", minDay: math.MinInt})
	for i, start := range s {
		label := fmt.Sprintf("%d+", start+1)
		if i+1 < len(s) {
			label = fmt.Sprintf("%d-%d", start+1, s[i+1])
		}
		out = append(out, agingBucket{Label: label, minDay: start + 1})
	}
	return out
}

func (o *odooServer) apAging(ctx context.Context, c *Call, in agingIn) (agingOut, error) {
	const model = "account.move"
	if err := o.policy.CanRead(model); err != nil {
		return agingOut{}, err
	}
	asOf := time.Now().UTC().Truncate(24 * time.Hour)
	if in.AsOfDate != "" {
		t, err := time.Parse("2006-01-02", in.AsOfDate)
		if err != nil {
			return agingOut{}, fmt.Errorf("as_of_date %q: use YYYY-MM-DD", in.AsOfDate)
		}
		asOf = t
	}
	for _, b := range in.Buckets {
		if b < 0 {
			return agingOut{}, fmt.Errorf("buckets: days must be ≥ 0, e.g. [0,30,60,90]")
		}
	}
	dom := []any{[]any{"move_type", "in", []any{"in_invoice", "in_refund"}}, []any{"state", "=", "posted"},
		[]any{"payment_state", "not in", []any{"paid", "reversed", "in_payment"}}}
	if in.PartnerID > 0 {
		dom = append(dom, []any{"partner_id", "=", in.PartnerID})
	}
	var bills []map[string]any
	if err := o.c.SearchRead(ctx, model, dom, map[string]any{"fields": []string{"name", "partner_id", "invoice_date", "invoice_date_due", "amount_residual", "move_type"}}, &bills); err != nil {
		return agingOut{}, odooErr(err)
	}
	buckets := agingBuckets(in.Buckets)
	out := agingOut{AsOf: asOf.Format("2006-01-02")}
	var total int64
	totals := make([]int64, len(buckets))
	for _, b := range bills {
		amt, _ := b["amount_residual"].(float64)
		if b["move_type"] == "in_refund" {
			amt = -amt
		}
		if amt == 0 {
			continue
		}
		due := asOf
		if s, ok := b["invoice_date_due"].(string); ok {
			if t, err := time.Parse("2006-01-02", s); err == nil {
				due = t
			}
		}
		days := int(asOf.Sub(due).Hours() / 24)
		i := len(buckets) - 1
		for i > 0 && days < buckets[i].minDay {
			i--
		}
		totals[i] += cents(amt)
		total += cents(amt)
		buckets[i].Count++
		if in.IncludeDetails {
			b["days_overdue"] = days
			buckets[i].Bills = append(buckets[i].Bills, b)
		}
	}
	for i := range buckets {
		buckets[i].Total = float64(totals[i]) / 100
	}
	out.Total, out.Buckets = float64(total)/100, buckets
	return out, nil
}

type birIn struct {
	DaysAhead int      `json:"days_ahead,omitempty" jsonschema:"look this many days ahead (default 7)"`
	FormTypes []string `json:"form_types,omitempty" jsonschema:"e.g. [\"1601-C\",\"2550M\"]"`
	Status    string   `json:"status,omitempty" jsonschema:"e.g. pending, filed"`
	Today     string   `json:"today,omitempty" jsonschema:"YYYY-MM-DD; default today"`
}

func (o *odooServer) birDeadlines(ctx context.Context, c *Call, in birIn) (recordsOut, error) {
	const model = "bir.filing_deadline"
	if err := o.policy.CanRead(model); err != nil {
		return recordsOut{}, err
	}
	days := clampN(in.DaysAhead, 7)
	today := time.Now().UTC()
	if in.Today != "" {
		t, err := time.Parse("2006-01-02", in.Today)
		if err != nil {
			return recordsOut{}, fmt.Errorf("today %q: use YYYY-MM-DD", in.Today)
		}
		today = t
	}
	dom := []any{[]any{"deadline_date", ">=", today.Format("2006-01-02")},
		[]any{"deadline_date", "<=", today.AddDate(0, 0, days).Format("2006-01-02")}}
	if len(in.FormTypes) > 0 {
		ft := make([]any, len(in.FormTypes))
		for i, f := range in.FormTypes {
			ft[i] = f
		}
		dom = append(dom, []any{"form_type", "in", ft})
	}
	if in.Status != "" {
		dom = append(dom, []any{"status", "=", in.Status})
	}
	var recs []map[string]any
	if err := o.c.SearchRead(ctx, model, dom, map[string]any{"fields": []string{"name", "form_type", "period", "deadline_date", "status"},
		"order": "deadline_date asc"}, &recs); err != nil {
		return recordsOut{}, odooErr(err)
	}
	return recordsOut{Model: model, Count: len(recs), Records: nonNil(recs)}, nil
}
