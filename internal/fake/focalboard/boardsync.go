package focalboard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"time"
)

// WithBoardEdits starts a front server passing every request to s. The
// fake serves board patches and card content blocks itself now (as the
// real server does); this is kept for callers written when it did not.
// Close it before s.
func (s *Server) WithBoardEdits() *httptest.Server {
	target, _ := url.Parse(s.URL)
	return httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
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
		apiError(w, 404, "{boards} not found")
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
	if s.boards[r.PathValue("board")] == nil {
		apiError(w, 403, "access denied to make board changes")
		return
	}
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
	s.deleteCard(id)
	writeJSON(w, 200, map[string]any{})
}

// deleteCard removes a card, its content blocks and its place in the
// creation order (lock held).
func (s *Server) deleteCard(id string) {
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
}

// deleteBoard answers DELETE /api/v2/boards/{board}: the board, its cards
// and their content go.
func (s *Server) deleteBoard(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("board")
	if s.boards[id] == nil {
		apiError(w, 404, "{boards} not found")
		return
	}
	delete(s.boards, id)
	for cid, c := range s.cards {
		if c["boardId"] == id {
			s.deleteCard(cid)
		}
	}
	for bid, b := range s.blocks {
		if b["boardId"] == id {
			delete(s.blocks, bid)
		}
	}
	writeJSON(w, 200, map[string]any{})
}
