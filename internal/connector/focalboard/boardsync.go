package focalboard

import (
	"context"
	"net/http"
	"net/url"
)

// BoardPatch changes a board; UpdatedCardProperties replaces the card
// property templates with the same ids (and adds new ones).
type BoardPatch struct {
	Title                 *string        `json:"title,omitempty"`
	UpdatedCardProperties []CardProperty `json:"updatedCardProperties,omitempty"`
	DeletedCardProperties []string       `json:"deletedCardProperties,omitempty"`
}

// PatchBoard patches a board and returns it.
func (c *Client) PatchBoard(ctx context.Context, boardID string, p BoardPatch) (Board, error) {
	var out Board
	_, err := c.do(ctx, http.MethodPatch, "/api/v2/boards/"+url.PathEscape(boardID), p, &out)
	return out, err
}

// DeleteCard deletes a card (cards are blocks).
func (c *Client) DeleteCard(ctx context.Context, boardID, cardID string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v2/boards/"+url.PathEscape(boardID)+"/blocks/"+url.PathEscape(cardID), nil, nil)
	return err
}

// AllCards lists every card of a board, page by page.
func (c *Client) AllCards(ctx context.Context, boardID string) ([]Card, error) {
	const per = 100
	var all []Card
	for page := 0; ; page++ {
		cards, err := c.Cards(ctx, boardID, page, per)
		if err != nil {
			return nil, err
		}
		all = append(all, cards...)
		if len(cards) < per {
			return all, nil
		}
	}
}
