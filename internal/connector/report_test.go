package connector_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
)

type failing struct{ err error }

func (f failing) Test(_ context.Context, p *connector.Probe) { p.Fail(connector.CheckAuth, f.err) }

// A service error with newlines (Odoo's "Record does not exist …\n(Record:
// …)") is reported on one line: it is stored as the connector's last error
// and shown as one row of `ipai connector list`.
func TestFailDetailIsOneLine(t *testing.T) {
	err := errors.New("service answered 200 (odoo.exceptions.MissingError): Record does not exist or has been deleted.\n(Record: res.partner(9,), User: 2)\n")
	r := connector.Test(context.Background(), failing{err}, 0)
	got := r.Error()
	if strings.ContainsAny(got, "\r\n\t") || !strings.HasSuffix(got, "(Record: res.partner(9,), User: 2)") || !errors.Is(r.Err, err) {
		t.Fatalf("report error = %q", got)
	}
}
