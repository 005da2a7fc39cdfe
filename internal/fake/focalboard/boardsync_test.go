package focalboard_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/fake/focalboard"
)

// Deleting a board takes its cards out of the creation order too: listing
// another board's blocks afterwards still answers.
func TestDeleteBoardForgetsItsCards(t *testing.T) {
	s := focalboard.New()
	defer s.Close()
	do := func(method, path, body string) int {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+focalboard.Token)
		req.Header.Set("X-Requested-With", "XMLHttpRequest")
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	other := s.AddBoard("Other")
	if c := do("POST", "/api/v2/boards/"+s.BoardID+"/cards", `{"title":"x"}`); c != 200 {
		t.Fatalf("create card: %d", c)
	}
	if c := do("DELETE", "/api/v2/boards/"+s.BoardID, ""); c != 200 {
		t.Fatalf("delete board: %d", c)
	}
	if c := do("GET", "/api/v2/boards/"+other+"/blocks", ""); c != 200 {
		t.Fatalf("list blocks after a board's deletion: %d", c)
	}
}
