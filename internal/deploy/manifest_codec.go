package deploy

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The manifest is read at the start and written at the end of every deploy
// that changes something, so its size and decoding time are on the critical
// path of a small deploy of a large site. Version 2 writes each file as one
// string, "<blob> <size> <type#> <cache#>[ <key>…]", with the content types
// and cache rules listed once, and the keys only when they are not the
// default pair (edition key, path key): about half the bytes of version 1
// and several times faster to decode than a map of structs.
//
//	{"version":2, "edition":"production", …,
//	 "types":["text/html; charset=utf-8"], "caches":["public, max-age=0, must-revalidate"],
//	 "files":{"index.html":"5d7f… 1234 0 0"}}

type manifestHeader struct {
	Version  int    `json:"version"`
	Edition  string `json:"edition"`
	Commit   string `json:"commit,omitempty"`
	Tree     string `json:"tree,omitempty"`
	DeployID string `json:"deploy_id"`
}

type manifestV1 struct {
	manifestHeader
	Files map[string]ManifestFile `json:"files"`
}

type manifestV2 struct {
	manifestHeader
	Types  []string          `json:"types"`
	Caches []string          `json:"caches"`
	Files  map[string]string `json:"files"`
}

// MarshalJSON writes version 2, by hand: encoding/json would sort and
// reflect over 10,000 map entries, which is most of a small deploy's CPU.
func (m Manifest) MarshalJSON() ([]byte, error) {
	paths := make([]string, 0, len(m.Files))
	for p := range m.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var types, caches []string
	typeIdx, cacheIdx := map[string]int{}, map[string]int{}
	index := func(list *[]string, seen map[string]int, v string) int {
		i, ok := seen[v]
		if !ok {
			i = len(*list)
			seen[v] = i
			*list = append(*list, v)
		}
		return i
	}
	edKey := EditionKey(m.Edition)
	body := make([]byte, 0, 96*len(paths)+256)
	for i, p := range paths {
		f := m.Files[p]
		if i > 0 {
			body = append(body, ',')
		}
		body = appendJSONString(body, p)
		body = append(body, ':', '"')
		body = appendJSONChars(body, f.Blob)
		body = append(body, ' ')
		body = strconv.AppendInt(body, f.Size, 10)
		body = append(body, ' ')
		body = strconv.AppendInt(body, int64(index(&types, typeIdx, f.ContentType)), 10)
		body = append(body, ' ')
		body = strconv.AppendInt(body, int64(index(&caches, cacheIdx, f.CacheControl)), 10)
		switch {
		case f.Keys == nil:
		case len(f.Keys) == 0:
			body = append(body, " -"...)
		case len(f.Keys) == 2 && f.Keys[0] == edKey && f.Keys[1] == PathKey(m.Edition, p):
		default:
			for _, k := range f.Keys {
				if k == "" || k == "-" || strings.ContainsAny(k, " \t\r\n") {
					return nil, fmt.Errorf("manifest: %s: surrogate key %q cannot be stored", p, k)
				}
				body = append(body, ' ')
				body = appendJSONChars(body, k)
			}
		}
		if strings.ContainsAny(f.Blob, " \t\r\n") || f.Blob == "" {
			return nil, fmt.Errorf("manifest: %s: blob %q cannot be stored", p, f.Blob)
		}
		body = append(body, '"')
	}
	head, err := json.Marshal(struct {
		manifestHeader
		Types  []string `json:"types"`
		Caches []string `json:"caches"`
	}{manifestHeader{Version: ManifestVersion, Edition: m.Edition, Commit: m.Commit, Tree: m.Tree, DeployID: m.DeployID},
		append([]string{}, types...), append([]string{}, caches...)})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(body)+16)
	out = append(out, head[:len(head)-1]...) // without the closing brace
	out = append(out, `,"files":{`...)
	out = append(out, body...)
	return append(out, '}', '}'), nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONChars(b, s)
	return append(b, '"')
}

// appendJSONChars appends s escaped for the inside of a JSON string:
// quotes, backslashes and control characters; other UTF-8 passes as is.
func appendJSONChars(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// UnmarshalJSON reads versions 1 and 2.
func (m *Manifest) UnmarshalJSON(data []byte) error { return decodeManifest(data, m) }

// decodeManifest reads version 2 in one pass of encoding/json (a map of
// strings), and version 1 when the files are objects.
func decodeManifest(data []byte, m *Manifest) error {
	if fast, ok := decodeManifestStream(data); ok {
		*m = *fast
		return nil
	}
	return decodeManifestJSON(data, m)
}

// decodeManifestJSON reads either version with encoding/json.
func decodeManifestJSON(data []byte, m *Manifest) error {
	var v2 manifestV2
	err2 := json.Unmarshal(data, &v2)
	if err2 == nil && v2.Version >= 2 {
		*m = Manifest{Version: v2.Version, Edition: v2.Edition, Commit: v2.Commit, Tree: v2.Tree, DeployID: v2.DeployID,
			Files: make(map[string]ManifestFile, len(v2.Files))}
		for p, v := range v2.Files {
			f, err := parseCompact(v, v2.Types, v2.Caches)
			if err != nil {
				return fmt.Errorf("manifest: %s: %w", p, err)
			}
			m.Files[p] = f
		}
		return nil
	}
	var v1 manifestV1
	if err := json.Unmarshal(data, &v1); err != nil {
		if err2 != nil {
			return err2
		}
		return err
	}
	*m = Manifest{Version: v1.Version, Edition: v1.Edition, Commit: v1.Commit, Tree: v1.Tree, DeployID: v1.DeployID, Files: v1.Files}
	return nil
}

// decodeManifestStream reads a version 2 manifest as hoist writes it
// (the types and caches before the files) token by token, straight into
// the map of files: decoding into a map of strings first costs as much
// again. Anything else, or anything it is not sure of, reports false, and
// decodeManifest reads the file with encoding/json as before.
func decodeManifestStream(data []byte) (*Manifest, bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true))
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
		return nil, false
	}
	m := &Manifest{}
	var types, caches []string
	seenTypes, seenCaches, seenFiles := false, false, false
	str := func() (string, bool) {
		t, err := dec.ReadToken()
		if err != nil || t.Kind() != '"' {
			return "", false
		}
		return t.String(), true
	}
	list := func() ([]string, bool) {
		if t, err := dec.ReadToken(); err != nil || t.Kind() != '[' {
			return nil, false
		}
		var out []string
		for dec.PeekKind() == '"' {
			v, _ := str()
			out = append(out, v)
		}
		if t, err := dec.ReadToken(); err != nil || t.Kind() != ']' {
			return nil, false
		}
		return out, true
	}
	for dec.PeekKind() == '"' {
		key, _ := str()
		ok := true
		switch key {
		case "version":
			t, err := dec.ReadToken()
			if err != nil || t.Kind() != '0' {
				return nil, false
			}
			v, err := strconv.Atoi(t.String())
			if err != nil {
				return nil, false
			}
			m.Version = v
		case "edition":
			m.Edition, ok = str()
		case "commit":
			m.Commit, ok = str()
		case "tree":
			m.Tree, ok = str()
		case "deploy_id":
			m.DeployID, ok = str()
		case "types":
			types, ok = list()
			seenTypes = true
		case "caches":
			caches, ok = list()
			seenCaches = true
		case "files":
			if !seenTypes || !seenCaches || seenFiles {
				return nil, false
			}
			seenFiles = true
			if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
				return nil, false
			}
			m.Files = make(map[string]ManifestFile, len(data)/96)
			for dec.PeekKind() == '"' {
				p, _ := str()
				v, vok := str()
				if !vok {
					return nil, false
				}
				if _, dup := m.Files[p]; dup {
					return nil, false
				}
				f, err := parseCompact(v, types, caches)
				if err != nil {
					return nil, false
				}
				m.Files[p] = f
			}
			if t, err := dec.ReadToken(); err != nil || t.Kind() != '}' {
				return nil, false
			}
		default:
			return nil, false
		}
		if !ok {
			return nil, false
		}
	}
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '}' {
		return nil, false
	}
	if _, err := dec.ReadToken(); err != io.EOF || m.Version < 2 || !seenFiles {
		return nil, false
	}
	return m, true
}

// parseCompact reads "<blob> <size> <type#> <cache#>[ <key>…| -]".
func parseCompact(v string, types, caches []string) (ManifestFile, error) {
	var f ManifestFile
	var fields [4]string
	rest := v
	for i := range fields {
		var ok bool
		fields[i], rest, ok = strings.Cut(rest, " ")
		if !ok && i < 3 {
			return f, fmt.Errorf("%q is not \"blob size type cache\"", v)
		}
	}
	size, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || size < 0 {
		return f, fmt.Errorf("size %q", fields[1])
	}
	ti, err1 := strconv.Atoi(fields[2])
	ci, err2 := strconv.Atoi(fields[3])
	if err1 != nil || err2 != nil || ti < 0 || ti >= len(types) || ci < 0 || ci >= len(caches) {
		return f, fmt.Errorf("type or cache index out of range in %q", v)
	}
	f = ManifestFile{Blob: fields[0], Size: size, ContentType: types[ti], CacheControl: caches[ci]}
	switch {
	case rest == "":
	case rest == "-":
		f.Keys = []string{}
	default:
		f.Keys = strings.Fields(rest)
	}
	return f, nil
}
