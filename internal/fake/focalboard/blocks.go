package focalboard

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"
)

// listBlocks answers GET /api/v2/boards/{board}/blocks[?parent_id=&type=]:
// the board's cards and content blocks, oldest first.
func (s *Server) listBlocks(w http.ResponseWriter, r *http.Request, _ string) {
	board, parent, typ := r.PathValue("board"), r.URL.Query().Get("parent_id"), r.URL.Query().Get("type")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.boards[board] == nil {
		apiError(w, 404, "{boards} not found")
		return
	}
	out := []map[string]any{}
	add := func(b map[string]any) {
		if b["boardId"] == board && (parent == "" || b["parentId"] == parent) && (typ == "" || b["type"] == typ) {
			out = append(out, clone(b))
		}
	}
	for _, id := range s.order {
		c := clone(s.cards[id])
		c["type"], c["parentId"] = "card", board
		add(c)
	}
	for _, b := range s.blocks {
		add(b)
	}
	sort.SliceStable(out, func(i, j int) bool { return num(out[i]["createAt"]) < num(out[j]["createAt"]) })
	writeJSON(w, 200, out)
}

func num(v any) float64 { f, _ := v.(float64); return f }

// insertBlocks answers POST /api/v2/boards/{board}/blocks with a list of
// content blocks; ids are assigned by the server.
func (s *Server) insertBlocks(w http.ResponseWriter, r *http.Request, user string) {
	board := r.PathValue("board")
	var in []map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, "invalid blocks")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	now := time.Now().UnixMilli()
	// Focalboard checks each block in this order, with these messages
	// (server/api/blocks.go handlePostBlocks), before anything is stored.
	for _, b := range in {
		bid, _ := b["id"].(string)
		if typ, _ := b["type"].(string); typ == "" {
			apiError(w, 400, "missing type for block id "+bid)
			return
		}
		if num(b["createAt"]) < 1 {
			apiError(w, 400, "invalid createAt for block id "+bid)
			return
		}
		if num(b["updateAt"]) < 1 {
			apiError(w, 400, "invalid UpdateAt for block id "+bid)
			return
		}
		if bb, _ := b["boardId"].(string); bb != board {
			apiError(w, 400, "invalid BoardID for block id "+bid)
			return
		}
	}
	if s.boards[board] == nil { // Focalboard checks the board's permissions after the blocks
		apiError(w, 403, "access denied to make board changes")
		return
	}
	for _, b := range in {
		typ, _ := b["type"].(string)
		parent, _ := b["parentId"].(string)
		if typ == "card" || parent == "" {
			apiError(w, 400, "fake: only content blocks (with a parentId) are supported here; create cards with POST /boards/{board}/cards")
			return
		}
		id := newID("x")
		blk := map[string]any{"id": id, "parentId": parent, "boardId": board, "createdBy": "u-" + user, "modifiedBy": "u-" + user,
			"schema": 1, "type": typ, "title": orEmpty(b["title"]), "fields": map[string]any{}, "createAt": now, "updateAt": now, "deleteAt": 0}
		if f, ok := b["fields"].(map[string]any); ok {
			blk["fields"] = f
		}
		s.blocks[id] = blk
		out = append(out, clone(blk))
	}
	writeJSON(w, 200, out)
}

// patchBlock answers PATCH /api/v2/boards/{board}/blocks/{block}.
func (s *Server) patchBlock(w http.ResponseWriter, r *http.Request, user string) {
	var in struct {
		Title         *string        `json:"title"`
		UpdatedFields map[string]any `json:"updatedFields"`
		DeletedFields []string       `json:"deletedFields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, "invalid block patch")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.boards[r.PathValue("board")] == nil {
		apiError(w, 403, "access denied to make board changes")
		return
	}
	id := r.PathValue("block")
	if c := s.cards[id]; c != nil && c["boardId"] == r.PathValue("board") {
		// A card is a block whose fields hold contentOrder, icon and
		// properties; each updated field is replaced whole.
		if in.Title != nil {
			c["title"] = *in.Title
		}
		for k, v := range in.UpdatedFields {
			if k == "properties" || k == "contentOrder" || k == "icon" {
				c[k] = v
			}
		}
		c["modifiedBy"], c["updateAt"] = "u-"+user, time.Now().UnixMilli()
		writeJSON(w, 200, map[string]any{})
		return
	}
	b := s.blocks[id]
	if b == nil || b["boardId"] != r.PathValue("board") {
		apiError(w, 404, "{block ID="+id+"} not found")
		return
	}
	if in.Title != nil {
		b["title"] = *in.Title
	}
	fields, _ := b["fields"].(map[string]any)
	if fields == nil {
		fields = map[string]any{}
	}
	for k, v := range in.UpdatedFields {
		fields[k] = v
	}
	for _, k := range in.DeletedFields {
		delete(fields, k)
	}
	b["fields"], b["modifiedBy"], b["updateAt"] = fields, "u-"+user, time.Now().UnixMilli()
	writeJSON(w, 200, map[string]any{})
}
