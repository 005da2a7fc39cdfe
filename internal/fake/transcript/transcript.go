// Package transcript keeps the fakes in internal/fake honest. A contract
// test runs its cases against a real service through a Recorder, which
// writes each request and the real answer to a JSON file under testdata;
// Replay later sends the same requests to a fake and fails when the fake's
// answer does not have the real answer's shape: the same status, media type,
// object keys (none missing, none extra) and value types, and the same values
// at the paths a case names as exact.
//
// Values that differ between the real service and the fake by nature (ids,
// tokens, timestamps) are handled by binding: a recorded answer's value at a
// bound path is replaced, in every later request, by the value the fake
// answered at that path. Secrets never reach the file: a Recorder replaces
// every registered secret, and every Authorization and Cookie header value,
// by a {{name}} placeholder that Replay fills in from its Vars.
//
// Only tests import this package.
package transcript

import (
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File is one recorded conversation with one service.
type File struct {
	Service  string `json:"service"`            // e.g. "odoo"
	Version  string `json:"version,omitempty"`  // what the real service reported, e.g. "18.0"
	Recorded string `json:"recorded,omitempty"` // date of the recording
	Note     string `json:"note,omitempty"`
	// AnyFalse makes a recorded or replayed false match a value of any
	// type: Odoo writes false for an empty field whatever its type, so a
	// fake seeded with other data may fill a field the real record left
	// empty.
	AnyFalse  bool       `json:"any_false,omitempty"`
	Exchanges []Exchange `json:"exchanges"`
}

// Exchange is one request and the answer the real service gave.
type Exchange struct {
	Name     string  `json:"name"`
	Request  Message `json:"request"`
	Response Message `json:"response"`
	// Exact lists paths (see Path) whose values must be equal, not only of
	// the same type, e.g. "error.data.name".
	Exact []string `json:"exact,omitempty"`
	// Loose lists paths whose value is not compared at all (an object the
	// service fills with whatever it holds, e.g. a record's properties).
	Loose []string `json:"loose,omitempty"`
	// Bind names values of this answer that later requests use: name → path.
	Bind map[string]string `json:"bind,omitempty"`
}

// Message is a request (Method, Path) or an answer (Status). Body holds the
// JSON body as it was sent; a body that is not JSON is kept as a JSON
// string.
type Message struct {
	Method string            `json:"method,omitempty"`
	Path   string            `json:"path,omitempty"` // path and query
	Status int               `json:"status,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   json.RawMessage   `json:"body,omitempty"`
}

// Redact replaces a secret learned only from an answer (a key the service
// made) by a {{name}} placeholder in every recorded message.
func (f *File) Redact(name, literal string) {
	if literal == "" {
		return
	}
	for i := range f.Exchanges {
		for _, m := range []*Message{&f.Exchanges[i].Request, &f.Exchanges[i].Response} {
			m.Path = strings.ReplaceAll(m.Path, literal, "{{"+name+"}}")
			m.Body = json.RawMessage(strings.ReplaceAll(string(m.Body), literal, "{{"+name+"}}"))
			for k, v := range m.Header {
				m.Header[k] = strings.ReplaceAll(v, literal, "{{"+name+"}}")
			}
		}
	}
}

// Load reads a transcript file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Save writes f as indented JSON, creating the folder.
func (f *File) Save(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Path names a value inside a JSON document: object keys joined by dots,
// array elements as [i]; "" is the whole document. In Exact and Loose, []
// stands for every index: "result[].id".
func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pattern turns a concrete path into its index-free form.
func pattern(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		b.WriteByte(path[i])
		if path[i] == '[' {
			j := strings.IndexByte(path[i:], ']')
			if j > 0 {
				i += j - 1
			}
		}
	}
	return b.String()
}

// Options tune Compare.
type Options struct {
	AnyFalse bool
	Exact    []string
	Loose    []string
}

func (o Options) has(list []string, path string) bool {
	p := pattern(path)
	for _, l := range list {
		if l == path || l == p {
			return true
		}
	}
	return false
}

// Compare reports how got's shape differs from want's, one line a
// difference; nil when they agree. Bodies that are not JSON are compared
// as "some text".
func Compare(want, got []byte, o Options) []string {
	var w, g any
	wErr := json.Unmarshal(want, &w)
	gErr := json.Unmarshal(got, &g)
	switch {
	case len(want) == 0 && len(got) == 0:
		return nil
	case wErr == nil && gErr != nil:
		// A recorded body that was not JSON (an HTML page) is kept as a
		// JSON string: text against text is a match.
		if _, text := w.(string); text && len(got) > 0 {
			return nil
		}
		return []string{fmt.Sprintf("body: want %s, got %s", kindOfRaw(want, wErr), kindOfRaw(got, gErr))}
	case wErr != nil || gErr != nil:
		if (wErr == nil) != (gErr == nil) {
			return []string{fmt.Sprintf("body: want %s, got %s", kindOfRaw(want, wErr), kindOfRaw(got, gErr))}
		}
		return nil
	}
	var diffs []string
	compare("", w, g, o, &diffs)
	return diffs
}

func kindOfRaw(b []byte, err error) string {
	if len(b) == 0 {
		return "no body"
	}
	if err != nil {
		return "a body that is not JSON"
	}
	return "JSON"
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func show(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
}

func compare(path string, w, g any, o Options, diffs *[]string) {
	if o.has(o.Loose, path) {
		return
	}
	if o.has(o.Exact, path) {
		wb, _ := json.Marshal(w)
		gb, _ := json.Marshal(g)
		if string(wb) != string(gb) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got %s", show(path), clip(wb), clip(gb)))
		}
		return
	}
	if o.AnyFalse && (w == false || g == false) {
		return
	}
	if kind(w) != kind(g) {
		*diffs = append(*diffs, fmt.Sprintf("%s: want %s, got %s", show(path), kind(w), kind(g)))
		return
	}
	switch wv := w.(type) {
	case map[string]any:
		gv := g.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(wv)) {
			p := joinKey(path, k)
			if gx, ok := gv[k]; ok {
				compare(p, wv[k], gx, o, diffs)
			} else if !o.has(o.Loose, p) {
				*diffs = append(*diffs, p+": missing (the real service sends it)")
			}
		}
		for _, k := range slices.Sorted(maps.Keys(gv)) {
			p := joinKey(path, k)
			if _, ok := wv[k]; !ok && !o.has(o.Loose, p) {
				*diffs = append(*diffs, p+": unexpected (the real service does not send it)")
			}
		}
	case []any:
		gv := g.([]any)
		if (len(wv) == 0) != (len(gv) == 0) {
			*diffs = append(*diffs, fmt.Sprintf("%s: want %d elements, got %d", show(path), len(wv), len(gv)))
			return
		}
		for i := 0; i < len(wv) && i < len(gv); i++ {
			compare(path+"["+strconv.Itoa(i)+"]", wv[i], gv[i], o, diffs)
		}
	}
}

func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}

// Lookup returns the value at path in a JSON document.
func Lookup(doc []byte, path string) (any, bool) {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return nil, false
	}
	for path != "" {
		var key string
		if path[0] == '[' {
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return nil, false
			}
			i, err := strconv.Atoi(path[1:end])
			arr, ok := v.([]any)
			if err != nil || !ok || i < 0 || i >= len(arr) {
				return nil, false
			}
			v, path = arr[i], strings.TrimPrefix(path[end+1:], ".")
			continue
		}
		end := strings.IndexAny(path, ".[")
		if end < 0 {
			key, path = path, ""
		} else {
			key, path = path[:end], strings.TrimPrefix(path[end:], ".")
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// mediaType is a Content-Type without its parameters.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.TrimSpace(ct)
	}
	return mt
}
