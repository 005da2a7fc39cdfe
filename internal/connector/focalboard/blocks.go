package focalboard

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Block is a Focalboard block: cards are blocks of type "card"; a card's
// content is blocks (type "text", "image", "divider", "checkbox" …) whose
// parentId is the card, shown in the order of the card's contentOrder.
type Block struct {
	ID         string         `json:"id"`
	ParentID   string         `json:"parentId"`
	BoardID    string         `json:"boardId,omitempty"`
	CreatedBy  string         `json:"createdBy,omitempty"`
	ModifiedBy string         `json:"modifiedBy,omitempty"`
	Schema     int            `json:"schema"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Fields     map[string]any `json:"fields"`
	CreateAt   int64          `json:"createAt,omitempty"`
	UpdateAt   int64          `json:"updateAt,omitempty"`
	DeleteAt   int64          `json:"deleteAt,omitempty"`
}

// BlockPatch changes some fields of a block; UpdatedFields replaces the
// named fields (a card's "properties" is one field: the whole map).
type BlockPatch struct {
	Title         *string        `json:"title,omitempty"`
	UpdatedFields map[string]any `json:"updatedFields,omitempty"`
	DeletedFields []string       `json:"deletedFields,omitempty"`
}

// Blocks lists a board's blocks, filtered by parent id and type when given.
func (c *Client) Blocks(ctx context.Context, boardID, parentID, typ string) ([]Block, error) {
	q := url.Values{}
	if parentID != "" {
		q.Set("parent_id", parentID)
	}
	if typ != "" {
		q.Set("type", typ)
	}
	path := "/api/v2/boards/" + url.PathEscape(boardID) + "/blocks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []Block
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// InsertBlocks creates blocks on a board; the server assigns ids (the ids
// sent may be temporary) and returns the blocks made. Focalboard refuses a
// block without createAt and updateAt (400 "invalid createAt for block id
// …"): they are set to now when zero.
func (c *Client) InsertBlocks(ctx context.Context, boardID string, blocks []Block) ([]Block, error) {
	now := time.Now().UnixMilli()
	for i := range blocks {
		if blocks[i].CreateAt == 0 {
			blocks[i].CreateAt = now
		}
		if blocks[i].UpdateAt == 0 {
			blocks[i].UpdateAt = now
		}
		blocks[i].BoardID = boardID
		if blocks[i].Schema == 0 {
			blocks[i].Schema = 1
		}
		if blocks[i].Fields == nil {
			blocks[i].Fields = map[string]any{}
		}
	}
	var out []Block
	_, err := c.do(ctx, http.MethodPost, "/api/v2/boards/"+url.PathEscape(boardID)+"/blocks?disable_notify=true", blocks, &out)
	return out, err
}

// PatchBlock patches a block.
func (c *Client) PatchBlock(ctx context.Context, boardID, blockID string, p BlockPatch) error {
	_, err := c.do(ctx, http.MethodPatch, "/api/v2/boards/"+url.PathEscape(boardID)+"/blocks/"+url.PathEscape(blockID), p, nil)
	return err
}

// DeleteBlock deletes a block.
func (c *Client) DeleteBlock(ctx context.Context, boardID, blockID string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v2/boards/"+url.PathEscape(boardID)+"/blocks/"+url.PathEscape(blockID), nil, nil)
	return err
}
