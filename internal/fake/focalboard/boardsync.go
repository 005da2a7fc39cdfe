package focalboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"time"
)

// WithBoardEdits starts a front server that adds what board sync needs —
// PATCH /api/v2/boards/{board} (card property templates), and GET, POST,
// PATCH and DELETE of /api/v2/boards/{board}/blocks (card content blocks;
// deleting a card deletes its content) — with the same
// CSRF and auth rules, and passes every other request to s. Close it
// before s.
func (s *Server) WithBoardEdits() *httptest.Server {
	target, _ := url.Parse(s.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	api := http.NewServeMux()
	api.HandleFunc("PATCH /api/v2/boards/{board}", s.auth(s.patchBoard))
	api.HandleFunc("DELETE /api/v2/boards/{board}/blocks/{block}", s.auth(s.deleteBlock))
	api.HandleFunc("GET /api/v2/boards/{board}/blocks", s.auth(s.listBlocks))
	api.HandleFunc("POST /api/v2/boards/{board}/blocks", s.auth(s.insertBlocks))
	api.HandleFunc("PATCH /api/v2/boards/{board}/blocks/{block}", s.auth(s.patchBlock))
	api.Handle("/", proxy)
	mux := http.NewServeMux()
	mux.Handle("PATCH /api/v2/boards/{board}", requireCSRF(api))
	mux.Handle("/api/v2/boards/{board}/blocks", requireCSRF(api))
	mux.Handle("/api/v2/boards/{board}/blocks/{block}", requireCSRF(api))
	mux.Handle("/", proxy)
	return httptest.NewServer(mux)
}

func (s *Server) patchBoard(w http.ResponseWriter, r *http.Request, _ string) {
	var in struct {
		Title                 *string          `json:"title"`
		UpdatedCardProperties []map[string]any `json:"updatedCardProperties"`
		DeletedCardProperties []string         `json:"deletedCardProperties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, "invalid board patch")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boards[r.PathValue("board")]
	if b == nil {
		apiError(w, 404, "board not found")
		return
	}
	if in.Title != nil {
		b["title"] = *in.Title
	}
	props, _ := b["cardProperties"].([]any)
	for _, up := range in.UpdatedCardProperties {
		replaced := false
		for i, p := range props {
			if pm, ok := p.(map[string]any); ok && pm["id"] == up["id"] {
				props[i], replaced = up, true
			}
		}
		if !replaced {
			props = append(props, up)
		}
	}
	for _, id := range in.DeletedCardProperties {
		for i, p := range props {
			if pm, ok := p.(map[string]any); ok && pm["id"] == id {
				props = append(props[:i], props[i+1:]...)
				break
			}
		}
	}
	b["cardProperties"] = props
	b["updateAt"] = time.Now().UnixMilli()
	writeJSON(w, 200, clone(b))
}

func (s *Server) deleteBlock(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("block")
	if b := s.blocks[id]; b != nil && b["boardId"] == r.PathValue("board") {
		delete(s.blocks, id)
		writeJSON(w, 200, map[string]any{})
		return
	}
	c := s.cards[id]
	if c == nil || c["boardId"] != r.PathValue("board") {
		apiError(w, 404, "{block ID="+id+"} not found")
		return
	}
	delete(s.cards, id)
	for bid, b := range s.blocks {
		if b["parentId"] == id {
			delete(s.blocks, bid)
		}
	}
	for i, o := range s.order {
		if o == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	writeJSON(w, 200, map[string]any{})
}
