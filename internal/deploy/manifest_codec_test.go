package deploy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func sampleManifest(n int) *Manifest {
	m := &Manifest{Version: ManifestVersion, Edition: "production", Commit: strings.Repeat("c", 40), Tree: strings.Repeat("t", 40),
		DeployID: "20260101T000000Z-0011223344556677", Files: map[string]ManifestFile{}}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("section%02d/group%03d/file%05d%s", i%20, i%500, i, []string{".html", ".css", ".js", ".png"}[i%4])
		ctype, cache := (*Rules)(nil).Headers(p)
		m.Files[p] = ManifestFile{Blob: fmt.Sprintf("%040x", i), Size: int64(i), ContentType: ctype, CacheControl: cache}
	}
	return m
}

func TestManifestRoundTrip(t *testing.T) {
	m := sampleManifest(20)
	m.Files["custom.html"] = ManifestFile{Blob: strings.Repeat("a", 40), Size: 3, ContentType: "text/html", CacheControl: "no-store", Keys: []string{"e-x", "k-1", "k-2"}}
	m.Files["nokeys.txt"] = ManifestFile{Blob: strings.Repeat("b", 40), Size: 0, ContentType: "text/plain", CacheControl: "", Keys: []string{}}
	m.Files["dir with space/é \"q\" \\ <&>.html"] = ManifestFile{Blob: strings.Repeat("d", 40), Size: 9, ContentType: "text/html; charset=utf-8",
		CacheControl: "public, max-age=0, must-revalidate"}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"version":2`) || strings.Contains(string(data), PathKey("production", "index.html")) {
		t.Fatalf("not the compact form: %.300s", data)
	}
	var back Manifest
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, m) {
		t.Fatalf("round trip differs:\n%+v\n%+v", back.Files["nokeys.txt"], m.Files["nokeys.txt"])
	}
}

func TestManifestReadsVersion1(t *testing.T) {
	v1 := `{"version":1,"edition":"staging","commit":"c1","tree":"t1","deploy_id":"d1",
	 "files":{"index.html":{"blob":"b1","size":5,"type":"text/html; charset=utf-8","cache":"no-cache","keys":["e-staging","p-1"]}}}`
	var m Manifest
	if err := json.Unmarshal([]byte(v1), &m); err != nil {
		t.Fatal(err)
	}
	f := m.Files["index.html"]
	if m.Version != 1 || m.Tree != "t1" || f.Blob != "b1" || f.Size != 5 || f.CacheControl != "no-cache" || len(f.Keys) != 2 || f.Keys[1] != "p-1" {
		t.Fatalf("read %+v", m)
	}
}

// Explicit default keys (as version 1 stored them) are written compactly
// and read back as the default.
func TestManifestDefaultKeys(t *testing.T) {
	m := sampleManifest(1)
	for p, f := range m.Files {
		f.Keys = []string{EditionKey("production"), PathKey("production", p)}
		m.Files[p] = f
	}
	data, _ := json.Marshal(m)
	var back Manifest
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for p, f := range back.Files {
		if f.Keys != nil || !reflect.DeepEqual(f.KeysOf("production", p), m.Files[p].Keys) {
			t.Fatalf("%s: keys %v", p, f.Keys)
		}
	}
}

func TestManifestRefusesDamage(t *testing.T) {
	for _, files := range []string{`{"a":"b1 5 0"}`, `{"a":"b1 x 0 0"}`, `{"a":"b1 5 3 0"}`, `{"a":"b1 5 0 -1"}`} {
		data := `{"version":2,"edition":"e","deploy_id":"d","types":["text/html"],"caches":["no-cache"],"files":` + files + `}`
		var m Manifest
		if err := json.Unmarshal([]byte(data), &m); err == nil {
			t.Errorf("%s: accepted", files)
		}
	}
}

// BenchmarkManifestDecode compares reading a 10,000-file manifest in the
// old (version 1) and the compact (version 2) form.
func BenchmarkManifestDecode(b *testing.B) {
	m := sampleManifest(10000)
	v2, _ := json.Marshal(m)
	v1, _ := json.Marshal(manifestV1{manifestHeader: manifestHeader{Version: 1, Edition: m.Edition, DeployID: m.DeployID}, Files: withKeys(m)})
	for _, c := range []struct {
		name string
		data []byte
	}{{"v1", v1}, {"v2", v2}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for i := 0; i < b.N; i++ {
				var err error
				if c.name == "v1" { // as version 1 was read: a map of structs
					var out manifestV1
					err = json.Unmarshal(c.data, &out)
				} else {
					var out Manifest
					err = decodeManifest(c.data, &out)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkManifestEncode(b *testing.B) {
	m := sampleManifest(10000)
	v1Files := withKeys(m)
	b.Run("v1", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			json.Marshal(manifestV1{manifestHeader: manifestHeader{Version: 1, Edition: m.Edition}, Files: v1Files})
		}
	})
	b.Run("v2", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			json.Marshal(m)
		}
	})
}

// withKeys is the files with their keys written out, as version 1 stored them.
func withKeys(m *Manifest) map[string]ManifestFile {
	out := make(map[string]ManifestFile, len(m.Files))
	for p, f := range m.Files {
		f.Keys = f.KeysOf(m.Edition, p)
		out[p] = f
	}
	return out
}

// The manifest hoist writes is read token by token, with the same result
// as encoding/json; a manifest written otherwise is left to encoding/json,
// which reads it or refuses it as it always did.
func TestManifestStreamDecoderAgrees(t *testing.T) {
	m := sampleManifest(300)
	m.Files["custom.html"] = ManifestFile{Blob: strings.Repeat("a", 40), Size: 3, ContentType: "text/html", CacheControl: "no-store", Keys: []string{"e-x", "k-1"}}
	m.Files["nokeys.txt"] = ManifestFile{Blob: strings.Repeat("b", 40), ContentType: "text/plain", Keys: []string{}}
	m.Files["q \"\\\" é\t.html"] = ManifestFile{Blob: strings.Repeat("d", 40), Size: 9, ContentType: "text/html; charset=utf-8", CacheControl: "x"}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	fast, ok := decodeManifestStream(data)
	if !ok {
		t.Fatalf("the stream decoder declined hoist's own manifest: %.200s", data)
	}
	var slow Manifest
	if err := decodeManifestJSON(data, &slow); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fast, &slow) || !reflect.DeepEqual(fast, m) {
		t.Fatal("the stream decoder and encoding/json read the manifest differently")
	}

	head := `"version":2,"edition":"e","deploy_id":"d","types":["text/html"],"caches":["no-store"]`
	file := `"files":{"a.html":"` + strings.Repeat("a", 40) + ` 1 0 0"}`
	for name, doc := range map[string]string{
		"files before types":  `{"version":2,"edition":"e","deploy_id":"d","files":{"a.html":"` + strings.Repeat("a", 40) + ` 1 0 0"},"types":["text/html"],"caches":["no-store"]}`,
		"a key in other case": `{` + head + `,"Commit":"c",` + file + `}`,
		"a null":              `{` + head + `,"commit":null,` + file + `}`,
		"a path twice":        `{` + head + `,"files":{"a.html":"` + strings.Repeat("a", 40) + ` 1 0 0","a.html":"` + strings.Repeat("b", 40) + ` 2 0 0"}}`,
		"trailing data":       `{` + head + `,` + file + `} x`,
		"version 1":           `{"version":1,"edition":"e","deploy_id":"d","files":{}}`,
		"a bad entry":         `{` + head + `,"files":{"a.html":"x 1 9 0"}}`,
	} {
		if _, ok := decodeManifestStream([]byte(doc)); ok {
			t.Errorf("%s: the stream decoder read it; it should leave it to encoding/json", name)
		}
		var viaDecode, viaJSON Manifest
		errDecode, errJSON := decodeManifest([]byte(doc), &viaDecode), decodeManifestJSON([]byte(doc), &viaJSON)
		if (errDecode == nil) != (errJSON == nil) || !reflect.DeepEqual(viaDecode, viaJSON) {
			t.Errorf("%s: decodeManifest gave %v, encoding/json %v", name, errDecode, errJSON)
		}
	}
}
