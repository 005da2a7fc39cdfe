package boardsync

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"sort"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
)

// Description ↔ card content. A card's content is its blocks; the text
// blocks, in contentOrder, joined by blank lines, are its description.
// Writing puts the whole text in the first text block and deletes the
// other text blocks (other content — images, checkboxes — is left alone).
// Odoo's description is HTML: it is read as plain text (paragraphs and
// <br> become line breaks, other markup is dropped) and written as one
// <p> per line.

// loadTexts reads every text block of the board in one request.
func (p *Pair) loadTexts(ctx context.Context) (map[string][]focalboard.Block, error) {
	bs, err := p.Board.Blocks(ctx, p.BoardID, "", "text")
	if err != nil {
		return nil, fmt.Errorf("read card content of board %s: %w", p.BoardID, err)
	}
	out := map[string][]focalboard.Block{}
	for _, b := range bs {
		if b.DeleteAt == 0 && b.Type == "text" {
			out[b.ParentID] = append(out[b.ParentID], b)
		}
	}
	return out, nil
}

// orderedTexts sorts a card's text blocks by the card's contentOrder;
// blocks not in it come last, oldest first.
func orderedTexts(c focalboard.Card, blocks []focalboard.Block) []focalboard.Block {
	pos := map[string]int{}
	for i, id := range c.ContentOrder {
		pos[id] = i + 1
	}
	out := append([]focalboard.Block(nil), blocks...)
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := pos[out[i].ID], pos[out[j].ID]
		switch {
		case pi != 0 && pj != 0:
			return pi < pj
		case pi != 0 || pj != 0:
			return pi != 0
		}
		return out[i].CreateAt < out[j].CreateAt
	})
	return out
}

// cardText is the description a card shows.
func cardText(c focalboard.Card, blocks []focalboard.Block) string {
	var parts []string
	for _, b := range orderedTexts(c, blocks) {
		if t := normText(b.Title); t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n\n")
}

// setCardText makes text the card's content (see above) and records the
// change in pr.texts.
func (p *Pair) setCardText(ctx context.Context, pr *props, c focalboard.Card, text string) error {
	blocks := orderedTexts(c, pr.texts[c.ID])
	if len(blocks) == 0 {
		if text == "" {
			return nil
		}
		made, err := p.Board.InsertBlocks(ctx, p.BoardID, []focalboard.Block{{ID: "ipai-text", ParentID: c.ID, Type: "text", Title: text}})
		if err != nil || len(made) != 1 {
			return fmt.Errorf("add content to card %s: %w", c.ID, orNoBlock(err))
		}
		order := append(append([]string{}, c.ContentOrder...), made[0].ID)
		if _, err := p.Board.PatchCard(ctx, c.ID, focalboard.CardPatch{ContentOrder: &order}); err != nil {
			return fmt.Errorf("order content of card %s: %w", c.ID, err)
		}
		pr.texts[c.ID] = made
		return nil
	}
	first := blocks[0]
	if err := p.Board.PatchBlock(ctx, p.BoardID, first.ID, focalboard.BlockPatch{Title: &text}); err != nil {
		return fmt.Errorf("update content of card %s: %w", c.ID, err)
	}
	gone := map[string]bool{}
	for _, b := range blocks[1:] {
		if err := p.Board.DeleteBlock(ctx, p.BoardID, b.ID); err != nil {
			return fmt.Errorf("merge content of card %s: %w", c.ID, err)
		}
		gone[b.ID] = true
	}
	if len(gone) > 0 {
		order := []string{}
		for _, id := range c.ContentOrder {
			if !gone[id] {
				order = append(order, id)
			}
		}
		if _, err := p.Board.PatchCard(ctx, c.ID, focalboard.CardPatch{ContentOrder: &order}); err != nil {
			return fmt.Errorf("order content of card %s: %w", c.ID, err)
		}
	}
	first.Title = text
	pr.texts[c.ID] = []focalboard.Block{first}
	return nil
}

func orNoBlock(err error) error {
	if err == nil {
		return fmt.Errorf("the server made no block")
	}
	return err
}

func normText(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

var (
	emptyPara = regexp.MustCompile(`(?i)<p[^>]*>\s*<br\s*/?>\s*</p>`)
	lineBreak = regexp.MustCompile(`(?i)<br\s*/?>|</(p|div|h[1-6]|li|blockquote|pre|tr)>`)
	anyTag    = regexp.MustCompile(`<[^>]*>`)
)

// htmlText turns an Odoo HTML field into plain text (false → "").
func htmlText(v any) string {
	s, _ := v.(string)
	s = emptyPara.ReplaceAllString(s, "\n")
	s = lineBreak.ReplaceAllString(s, "\n")
	s = anyTag.ReplaceAllString(s, "")
	return normText(html.UnescapeString(s))
}

// textHTML turns plain text into Odoo HTML, one paragraph per line ("" →
// false, Odoo's empty).
func textHTML(s string) any {
	s = normText(s)
	if s == "" {
		return false
	}
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			b.WriteString("<p><br></p>")
			continue
		}
		b.WriteString("<p>" + html.EscapeString(line) + "</p>")
	}
	return b.String()
}
