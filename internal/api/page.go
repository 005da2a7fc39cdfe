package api

// FetchPage reads one page of a newest-first list: fetch is asked for one
// row more than limit, which tells whether there is a next page; it returns
// at most limit rows and the cursor of the next page ("" when there is
// none). Shared by the API's list endpoints and the admin UI.
func FetchPage[T any](limit int, fetch func(limit int) ([]T, error), cursor func(T) string) ([]T, string, error) {
	rows, err := fetch(limit + 1)
	if err != nil || len(rows) <= limit {
		return rows, "", err
	}
	rows = rows[:limit]
	return rows, cursor(rows[limit-1]), nil
}
