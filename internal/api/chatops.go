package api

import (
	"errors"
	"net/http"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/problem"
)

// ChatMaxBody bounds what Mattermost sends (slash commands, outgoing
// webhooks, button clicks).
const ChatMaxBody = 64 << 10

func init() {
	route("GET", "/api/v1/bots", auth.RoleUser, "", (*Server).listBots)
	route("POST", "/api/v1/bots", auth.RoleAdmin, "bot.put", (*Server).putBot)
	route("GET", "/api/v1/bots/{bot}", auth.RoleUser, "", (*Server).getBot)
	route("DELETE", "/api/v1/bots/{bot}", auth.RoleAdmin, "bot.delete", (*Server).deleteBot)
	route("GET", "/api/v1/bots/{bot}/commands", auth.RoleUser, "", (*Server).listCommands)
	route("POST", "/api/v1/bots/{bot}/commands", auth.RoleAdmin, "bot.command.put", (*Server).putCommand)
	route("DELETE", "/api/v1/bots/{bot}/commands/{command}", auth.RoleAdmin, "bot.command.delete", (*Server).deleteCommand)
	// Mattermost calls these; each checks its own token or signature.
	// One pattern for both /integrations/slash/{bot}/{command} and the
	// original's /integrations/{connector_code}/webhook/{hook_id}: net/http
	// cannot register both (they overlap on /integrations/slash/webhook/x).
	routeBody("POST", "/integrations/{a}/{b}/{c}", auth.RolePublic, event.MaxMaxBody, (*Server).integrations3)
	routeBody("GET", "/integrations/slash/{bot}/{command}", auth.RolePublic, ChatMaxBody, (*Server).slash)
	routeBody("POST", "/integrations/mattermost/outgoing", auth.RolePublic, ChatMaxBody, (*Server).mmOutgoing)
	routeBody("POST", "/integrations/mattermost/actions", auth.RolePublic, ChatMaxBody, (*Server).mmAction)
}

// NeedChatOps returns co, or the 503 the API and the admin UI answer when
// chatops is not set up (co nil).
func NeedChatOps(co *chatops.Service) (*chatops.Service, error) {
	return need(co, "chatops is not set up on this hub")
}

func (s *Server) chat() (*chatops.Service, error) { return NeedChatOps(s.ChatOps) }

// chatBody is the chatops service and the request body, for the calls
// Mattermost and event senders make; withIngest also needs the event
// ingester.
func (s *Server) chatBody(r *http.Request, withIngest bool) (*chatops.Service, []byte, error) {
	co, err := s.chat()
	if err != nil {
		return nil, nil, err
	}
	if withIngest && s.Ingest == nil {
		return nil, nil, unavailable("events are not set up on this hub")
	}
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	return co, body, nil
}

func inputErr(err error) error {
	var ie *chatops.InputError
	if errors.As(err, &ie) {
		return problem.Invalid(ie.Field, "%s", ie.Message)
	}
	return err
}

func (s *Server) listBots(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.chat(); err != nil {
		return err
	}
	bots, err := s.DB.Bots(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": ViewAll(bots, chatops.ViewBot)})
	return nil
}

func (s *Server) getBot(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.chat(); err != nil {
		return err
	}
	b, err := s.DB.Bot(r.Context(), r.PathValue("bot"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, chatops.ViewBot(b))
	return nil
}

func (s *Server) putBot(w http.ResponseWriter, r *http.Request) error {
	co, err := s.chat()
	if err != nil {
		return err
	}
	var in chatops.BotInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	b, err := co.PutBot(r.Context(), in, false)
	if err != nil {
		return inputErr(err)
	}
	Note(r, "bot:"+b.Username, "bot saved", nil)
	writeJSON(w, http.StatusOK, chatops.ViewBot(b))
	return nil
}

func (s *Server) deleteBot(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.chat(); err != nil {
		return err
	}
	b, err := s.DB.Bot(r.Context(), r.PathValue("bot"))
	if err != nil {
		return err
	}
	if b.Managed {
		return problem.Conflict("bot %s is managed by ipai.yaml; remove it there", b.Username)
	}
	if err := s.DB.DeleteBot(r.Context(), b.Username); err != nil {
		return err
	}
	Note(r, "bot:"+b.Username, "bot deleted", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listCommands(w http.ResponseWriter, r *http.Request) error {
	co, err := s.chat()
	if err != nil {
		return err
	}
	if _, err := s.DB.Bot(r.Context(), r.PathValue("bot")); err != nil {
		return err
	}
	cs, err := s.DB.Commands(r.Context(), r.PathValue("bot"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": ViewAll(cs, co.ViewCommand)})
	return nil
}

func (s *Server) putCommand(w http.ResponseWriter, r *http.Request) error {
	co, err := s.chat()
	if err != nil {
		return err
	}
	var in chatops.CommandInput
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := co.PutCommand(r.Context(), r.PathValue("bot"), in, false)
	if err != nil {
		return inputErr(err)
	}
	Note(r, "bot:"+c.Bot+"/"+c.Command, "command saved", nil)
	writeJSON(w, http.StatusOK, co.ViewCommand(c))
	return nil
}

func (s *Server) deleteCommand(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.chat(); err != nil {
		return err
	}
	bot, cmd := r.PathValue("bot"), r.PathValue("command")
	c, err := s.DB.Command(r.Context(), bot, cmd)
	if err != nil {
		return err
	}
	if c.Managed {
		return problem.Conflict("/%s is managed by ipai.yaml; remove it there", cmd)
	}
	if err := s.DB.DeleteCommand(r.Context(), bot, cmd); err != nil {
		return err
	}
	Note(r, "bot:"+bot+"/"+cmd, "command deleted", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// integrations3 routes POST /integrations/{a}/{b}/{c}: slash commands
// (a = slash) and incoming webhooks (b = webhook).
func (s *Server) integrations3(w http.ResponseWriter, r *http.Request) error {
	a, b, c := r.PathValue("a"), r.PathValue("b"), r.PathValue("c")
	switch {
	case a == "slash":
		r.SetPathValue("bot", b)
		r.SetPathValue("command", c)
		r.Body = http.MaxBytesReader(w, r.Body, ChatMaxBody)
		return s.slash(w, r)
	case b == "webhook":
		r.SetPathValue("connector_code", a)
		r.SetPathValue("hook_id", c)
		return s.receiveHook(w, r)
	}
	return problem.NotFound("no route POST %s; see the README for the integration URLs", r.URL.Path)
}

// slash answers a Mattermost slash command with a CommandResponse.
func (s *Server) slash(w http.ResponseWriter, r *http.Request) error {
	co, body, err := s.chatBody(r, false)
	if err != nil {
		return err
	}
	req, err := chatops.ParseSlash(r.Method, r.Header.Get("Content-Type"), r.URL.RawQuery, body, r.Header.Get("Authorization"))
	if err != nil {
		if errors.Is(err, chatops.ErrBadRequest) && req.Token == "" {
			return problem.Unauthorized("%v", err)
		}
		return problem.BadRequest("%v", err)
	}
	out := co.Slash(r.Context(), r.PathValue("bot"), r.PathValue("command"), req)
	writeJSON(w, out.Status, out.Resp)
	return nil
}

// mmOutgoing turns an outgoing webhook post into an event.
func (s *Server) mmOutgoing(w http.ResponseWriter, r *http.Request) error {
	co, body, err := s.chatBody(r, true)
	if err != nil {
		return err
	}
	req, err := chatops.ParseOutgoing(r.Header.Get("Content-Type"), body)
	if err != nil {
		return problem.BadRequest("%v", err)
	}
	out, _, err := co.Outgoing(r.Context(), s.Ingest, req)
	if errors.Is(err, chatops.ErrUnverified) {
		return problem.Unauthorized("the token matches no outgoing webhook in chatops.outgoing")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// mmAction handles an Approve / Reject click.
func (s *Server) mmAction(w http.ResponseWriter, r *http.Request) error {
	co, body, err := s.chatBody(r, false)
	if err != nil {
		return err
	}
	req, c, err := chatops.ParseAction(body)
	if err != nil {
		return problem.BadRequest("%v", err)
	}
	out, err := co.Act(r.Context(), req, c)
	if errors.Is(err, chatops.ErrForbidden) {
		writeJSON(w, http.StatusForbidden, out)
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
