package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/store"
)

// pageLinks sets the Next and First links of a paged list: the query q with
// the cursor set to next (when there is a next page) or removed (when this
// is not the first page), and without the one-off parameters drop.
func pageLinks(data map[string]any, q url.Values, next string, drop ...string) {
	link := func(cursor string) string {
		v := copyValues(q)
		for _, k := range drop {
			v.Del(k)
		}
		v.Del("cursor")
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		return "?" + v.Encode()
	}
	if next != "" {
		data["Next"] = link(next)
	}
	if q.Get("cursor") != "" {
		data["First"] = link("")
	}
}

func copyValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	return out
}

// localTimes turns the browser's datetime-local values (taken as UTC) into
// the RFC 3339 times the API's filter parser reads.
func localTimes(q url.Values, keys ...string) url.Values {
	out := copyValues(q)
	for _, k := range keys {
		v := q.Get(k)
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				out.Set(k, t.UTC().Format(time.RFC3339))
				break
			}
		}
	}
	return out
}

func (s *Server) endpointNames(r *http.Request) (map[string]string, []store.Webhook, error) {
	eps, err := s.DB.ListWebhooks(r.Context(), store.Outgoing)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	for _, e := range eps {
		names[e.ID] = e.Name
	}
	return names, eps, nil
}

func (s *Server) deliveryList(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	names, eps, err := s.endpointNames(r)
	if err != nil {
		return err
	}
	data := map[string]any{"Title": "Deliveries", "Q": q, "Endpoints": eps, "Names": names,
		"States": []string{store.DeliveryPending, store.DeliveryRunning, store.DeliveryFailed, store.DeliverySucceeded, store.DeliveryDead}}
	f, err := api.ParseDeliveryFilter(localTimes(q, "since", "until"))
	if err != nil {
		fe, err := fieldErrors(err)
		if err != nil {
			return err
		}
		data["Errors"] = fe
		s.render(w, c, http.StatusUnprocessableEntity, "deliveries", data)
		return nil
	}
	ds, next, err := api.FetchPage(f.Limit, func(n int) ([]store.Delivery, error) { f.Limit = n; return s.DB.ListDeliveries(r.Context(), f) }, api.DeliveryCursor)
	if err != nil {
		return err
	}
	pageLinks(data, q, next)
	data["Items"] = ds
	s.render(w, c, http.StatusOK, "deliveries", data)
	return nil
}

func (s *Server) deliveryShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	d, err := api.LoadDelivery(r.Context(), s.DB, r.PathValue("id"))
	if err != nil {
		return err
	}
	atts, err := s.DB.Attempts(r.Context(), d.ID)
	if err != nil {
		return err
	}
	names, _, err := s.endpointNames(r)
	if err != nil {
		return err
	}
	s.render(w, c, http.StatusOK, "delivery", map[string]any{"Title": "Delivery " + d.ID, "D": d, "Attempts": atts, "Names": names})
	return nil
}

func (s *Server) wake() {
	if s.Dispatcher != nil {
		s.Dispatcher.Wake()
	}
}

func (s *Server) deliveryReplay(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	d, n, err := api.ReplayDelivery(r.Context(), s.DB, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return s.redirect(w, r, "/ui/deliveries/"+id, "Delivery is "+d.State+"; only dead, failed or succeeded deliveries can be replayed.")
	}
	s.wake()
	s.audit(r, "delivery.replay", id, "delivery replayed (was "+d.State+")", nil, audit.Info)
	return s.redirect(w, r, "/ui/deliveries/"+id, "Delivery replayed (was "+d.State+"); it is pending again.")
}

func (s *Server) deliveryReplayBulk(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ep := r.PostFormValue("endpoint")
	if ep == "" {
		return s.redirect(w, r, "/ui/deliveries?state=dead", "Choose the endpoint whose dead deliveries to replay.")
	}
	n, err := s.DB.ReplayDeliveries(r.Context(), store.DeliveryFilter{EndpointID: ep, State: store.DeliveryDead}, nil, time.Now())
	if err != nil {
		return err
	}
	s.wake()
	s.audit(r, "delivery.replay_bulk", ep, strconv.FormatInt(n, 10)+" dead deliveries replayed", nil, audit.Info)
	return s.redirect(w, r, "/ui/deliveries?endpoint="+url.QueryEscape(ep), strconv.FormatInt(n, 10)+" dead deliveries replayed.")
}
