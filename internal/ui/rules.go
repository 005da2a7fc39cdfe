package ui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// The rule forms change rules through rule.Service, the functions the
// REST API's /api/v1/rules handlers call: the same validation (expression
// and template compile errors, action shapes, limits), the same conflicts
// and the same dry run.

// ruleForm is the create/edit form's state: what the user typed.
type ruleForm struct {
	Edit                                       bool
	ID, Name, Source, Type, Condition, Actions string
	Enabled                                    bool
	Errors                                     map[string]string
}

// testForm is the dry-run form's state.
type testForm struct {
	Type, Source, Payload string
	Errors                map[string]string
	Result                *rule.TestResult
}

// ruleErrors places a rule error next to its form field: the action fields
// ("actions[0].text") go next to the actions box, naming the field.
func ruleErrors(err error) (map[string]string, error) {
	fe, err := fieldErrors(err)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for f, msg := range fe {
		switch {
		case f == "name" || f == "condition" || f == "match.source" || f == "match.type" || f == "actions":
			out[f] = msg
		case strings.HasPrefix(f, "actions["):
			out["actions"] = f + ": " + msg
		default:
			out["_"] = msg
		}
	}
	return out, nil
}

// readRuleForm reads the posted rule; actions is JSON, as the API takes it.
func readRuleForm(r *http.Request) (ruleForm, *[]rule.Action, map[string]string) {
	f := ruleForm{Name: r.PostFormValue("name"), Source: strings.TrimSpace(r.PostFormValue("match_source")),
		Type: strings.TrimSpace(r.PostFormValue("match_type")), Condition: r.PostFormValue("condition"),
		Actions: r.PostFormValue("actions"), Enabled: r.PostFormValue("enabled") != ""}
	var acts []rule.Action
	dec := json.NewDecoder(strings.NewReader(f.Actions))
	dec.DisallowUnknownFields()
	if strings.TrimSpace(f.Actions) == "" {
		return f, &acts, nil // Validate says at least one is required
	}
	if err := dec.Decode(&acts); err != nil || dec.More() {
		msg := "is not a JSON list of actions"
		if err != nil {
			msg += ": " + err.Error()
		}
		return f, nil, map[string]string{"actions": msg + `; expected e.g. [{"kind": "webhook", "endpoint": "ep_…"}]`}
	}
	return f, &acts, nil
}

func (s *Server) ruleNew(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.renderRuleForm(w, r, c, http.StatusOK, &ruleForm{Enabled: true, Type: "*"})
}

func (s *Server) renderRuleForm(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, f *ruleForm) error {
	eps, err := s.DB.ListWebhooks(r.Context(), store.Outgoing)
	if err != nil {
		return err
	}
	title := "New rule"
	if f.Edit {
		title = "Edit rule " + f.Name
	}
	s.render(w, c, status, "rule_form", map[string]any{"Title": title, "F": f, "Kinds": rule.Kinds(), "Endpoints": eps})
	return nil
}

func (s *Server) ruleCreate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, acts, fe := readRuleForm(r)
	if fe == nil {
		enabled := f.Enabled
		sp := rule.Spec{Name: f.Name, Enabled: &enabled, Match: rule.Match{Source: f.Source, Type: f.Type}, Condition: f.Condition, Actions: *acts}
		rec, err := s.Rules.Create(r.Context(), sp)
		if err == nil {
			s.audit(r, "rule.create", rec.ID, "rule "+rec.Name+" created", map[string]any{"match_type": rec.MatchType, "actions": len(sp.Actions)}, audit.Info)
			return s.redirect(w, r, "/ui/rules/"+rec.ID, "Rule "+rec.Name+" created. Try it below with a sample event.")
		}
		if fe, err = ruleErrors(err); err != nil {
			return err
		}
	}
	f.Errors = fe
	return s.renderRuleForm(w, r, c, http.StatusUnprocessableEntity, &f)
}

func (s *Server) ruleEdit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	x, err := s.Rules.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if x.Managed {
		return s.redirect(w, r, "/ui/rules/"+x.ID, "Rule "+x.Name+" is declared in ipai.yaml: change it there.")
	}
	return s.renderRuleForm(w, r, c, http.StatusOK, &ruleForm{Edit: true, ID: x.ID, Name: x.Name, Source: x.MatchSource,
		Type: x.MatchType, Condition: x.Condition, Actions: indentJSON(x.Actions), Enabled: x.Enabled})
}

func (s *Server) ruleUpdate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	f, acts, fe := readRuleForm(r)
	f.Edit, f.ID = true, id
	if fe == nil {
		p := rule.Patch{Name: &f.Name, Enabled: &f.Enabled, Match: &rule.Match{Source: f.Source, Type: f.Type},
			Condition: &f.Condition, Actions: acts}
		rec, err := s.Rules.Update(r.Context(), id, p)
		if err == nil {
			s.audit(r, "rule.update", rec.ID, "rule "+rec.Name+" updated", nil, audit.Info)
			return s.redirect(w, r, "/ui/rules/"+rec.ID, "Rule "+rec.Name+" saved.")
		}
		if fe, err = ruleErrors(err); err != nil {
			return err
		}
	}
	f.Errors = fe
	return s.renderRuleForm(w, r, c, http.StatusUnprocessableEntity, &f)
}

// ruleState turns a rule on or off (a PATCH of enabled).
func (s *Server) ruleState(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var on bool
	switch r.PostFormValue("enabled") {
	case "true":
		on = true
	case "false":
	default:
		return problem.Invalid("enabled", "%q: expected true or false", r.PostFormValue("enabled"))
	}
	rec, err := s.Rules.Update(r.Context(), r.PathValue("id"), rule.Patch{Enabled: &on})
	if err != nil {
		if p, ok := problem.As(err); ok && p.Status < 500 && p.Status != http.StatusNotFound {
			return s.redirect(w, r, "/ui/rules/"+r.PathValue("id"), "Not changed: "+p.Message)
		}
		return err
	}
	word := "disabled"
	if on {
		word = "enabled"
	}
	s.audit(r, "rule.update", rec.ID, "rule "+rec.Name+" updated", map[string]any{"enabled": on}, audit.Info)
	return s.redirect(w, r, "/ui/rules/"+rec.ID, "Rule "+rec.Name+" "+word+".")
}

func (s *Server) ruleDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	x, err := s.Rules.Delete(r.Context(), r.PathValue("id"))
	if err != nil {
		if p, ok := problem.As(err); ok && p.Status == http.StatusConflict {
			return s.redirect(w, r, "/ui/rules/"+r.PathValue("id"), "Not deleted: "+p.Message)
		}
		return err
	}
	s.audit(r, "rule.delete", x.ID, "rule "+x.Name+" deleted", nil, audit.Info)
	return s.redirect(w, r, "/ui/rules", "Rule "+x.Name+" deleted.")
}

func (s *Server) ruleShow(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.showRule(w, r, c, http.StatusOK, &testForm{Payload: "{}"})
}

func (s *Server) showRule(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, tf *testForm) error {
	x, err := s.Rules.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if tf.Type == "" && tf.Result == nil && tf.Errors == nil {
		tf.Type, tf.Source = exampleType(x.MatchType), x.MatchSource
	}
	sp, err := rule.FromStore(x)
	s.render(w, c, status, "rule", map[string]any{"Title": "Rule " + x.Name, "R": ruleRow{Rule: x, Spec: sp, Err: errText(err)}, "T": tf})
	return nil
}

// exampleType turns a type pattern into a type it matches, for the dry-run form.
func exampleType(pattern string) string {
	if pattern == "" || pattern == "*" {
		return "ipai.test"
	}
	return strings.ReplaceAll(pattern, "*", "example")
}

// ruleTest dry-runs the rule against the posted sample event; nothing is
// sent or stored.
func (s *Server) ruleTest(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	tf := &testForm{Type: strings.TrimSpace(r.PostFormValue("type")), Source: strings.TrimSpace(r.PostFormValue("source")),
		Payload: r.PostFormValue("payload")}
	x, res, err := s.Rules.TestStored(r.Context(), r.PathValue("id"),
		rule.Sample{Type: tf.Type, Source: tf.Source, Payload: json.RawMessage(strings.TrimSpace(tf.Payload))})
	if err != nil {
		fe, err := fieldErrors(err)
		if err != nil {
			return err
		}
		tf.Errors = fe
		return s.showRule(w, r, c, http.StatusUnprocessableEntity, tf)
	}
	s.audit(r, "rule.test", x.ID, "rule "+x.Name+" tested", nil, audit.Info)
	tf.Result = &res
	return s.showRule(w, r, c, http.StatusOK, tf)
}

func indentJSON(s string) string {
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(s), "", "  ") != nil {
		return s
	}
	return buf.String()
}
