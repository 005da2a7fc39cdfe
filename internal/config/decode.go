package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decode fills out from YAML, strictly: unknown keys and values of the wrong
// kind are errors naming the key path and line; string values get ${VAR}
// expansion from the environment.
func decode(data []byte, out any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty file
	}
	var errs []error
	fill("", doc.Content[0], reflect.ValueOf(out).Elem(), &errs)
	return errors.Join(errs...)
}

var durationType = reflect.TypeOf(time.Duration(0))

func fill(path string, n *yaml.Node, v reflect.Value, errs *[]error) {
	bad := func(format string, args ...any) {
		key := path
		if key == "" {
			key = "(top level)"
		}
		*errs = append(*errs, fmt.Errorf("line %d: %s: %s", n.Line, key, fmt.Sprintf(format, args...)))
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" && v.Kind() != reflect.Struct {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	// Every scalar setting may be written as ${VAR}: expanded, then parsed.
	text := func() (string, bool) {
		s, ok := scalar(n, bad)
		if !ok {
			return "", false
		}
		exp, err := expandEnv(s)
		if err != nil {
			bad("%v", err)
			return "", false
		}
		return exp, true
	}
	if v.Type() == durationType {
		s, ok := text()
		if !ok {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			bad("%q is not a duration (write it with a unit, like 90s, 5m or 1h)", s)
			return
		}
		v.SetInt(int64(d))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(path, n, v.Elem(), errs)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("expected a section of keys (a mapping), got %s", kindName(n))
			return
		}
		fields := structFields(v.Type())
		duplicates(path, n, errs)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i].Value, n.Content[i+1]
			idx, ok := fields[k]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				*errs = append(*errs, fmt.Errorf("line %d: unknown key %q%s; expected one of: %s",
					n.Content[i].Line, join(path, k), inSection(path), strings.Join(names, ", ")))
				continue
			}
			fill(join(path, k), val, v.FieldByIndex(idx), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad("expected a mapping, got %s", kindName(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		duplicates(path, n, errs)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			elem := reflect.New(v.Type().Elem()).Elem()
			fill(join(path, k), n.Content[i+1], elem, errs)
			v.SetMapIndex(reflect.ValueOf(k), elem)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			fill(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i), errs)
		}
		v.Set(s)
	case reflect.String:
		s, ok := text()
		if !ok {
			return
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		s, ok := text()
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			bad("%q is not a whole number", s)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := text()
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			bad("%q is not a number", s)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		s, ok := text()
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			bad("%q is not true or false", s)
			return
		}
		v.SetBool(b)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			bad("%v", err)
			return
		}
		v.Set(reflect.ValueOf(&x).Elem())
	default:
		bad("unsupported setting type %s", v.Type())
	}
}

// duplicates reports keys given twice in one mapping: YAML parsers differ
// on which one wins, so neither is taken.
func duplicates(path string, n *yaml.Node, errs *[]error) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, dup := seen[k.Value]; dup {
			*errs = append(*errs, fmt.Errorf("line %d: duplicate key %q (first given at line %d): keep one of them",
				k.Line, join(path, k.Value), first))
			continue
		}
		seen[k.Value] = k.Line
	}
}

func scalar(n *yaml.Node, bad func(string, ...any)) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		bad("expected a single value, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func inSection(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

// structFields maps yaml keys to field indexes, following inline structs.
func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, idx := range structFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default}; "$${" stands for a literal "${".
// A variable that is not set and has no default is an error.
func expandEnv(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // "$${": a literal "${"
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		s = s[i:]
		m := envRef.FindStringSubmatch(s)
		if m == nil { // not a reference: kept as written
			b.WriteString("${")
			s = s[2:]
			continue
		}
		switch v, ok := os.LookupEnv(m[1]); {
		case ok && v != "":
			b.WriteString(v)
		case m[2] != "":
			b.WriteString(strings.ReplaceAll(m[3], "$${", "${"))
		default:
			return "", fmt.Errorf("refers to ${%s}, which is not set in the environment; set it or write ${%s:-default}", m[1], m[1])
		}
		s = s[len(m[0]):]
	}
}
