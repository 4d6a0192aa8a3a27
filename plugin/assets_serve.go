package plugin

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

//go:embed assets/herken.js assets/herken-worker.js assets/herken-widget.js
var scripts embed.FS

// asset is one file the handler serves, with its compressed forms.
type asset struct {
	typ       string
	body      []byte
	br, gz    []byte
	etag      string
	immutable bool // served with a version in its URL
}

type assets struct{ files map[string]*asset }

func newAssets() (*assets, error) {
	sum := sha256.Sum256(Module)
	version := hex.EncodeToString(sum[:8])
	a := &assets{files: map[string]*asset{}}
	a.files["herken.wasm"] = &asset{typ: "application/wasm", body: Module, br: moduleBrotli, gz: moduleGzip, immutable: true}
	for _, name := range []string{"herken.js", "herken-worker.js", "herken-widget.js"} {
		b, err := scripts.ReadFile("assets/" + name)
		if err != nil {
			return nil, err
		}
		// The worker asks for the module by version, so that browsers may
		// keep it for good.
		b = []byte(strings.ReplaceAll(string(b), "__HERKEN_WASM_VERSION__", version))
		gz, err := gzipBytes(b)
		if err != nil {
			return nil, err
		}
		a.files[name] = &asset{typ: "text/javascript; charset=utf-8", body: b, gz: gz}
	}
	for _, f := range a.files {
		s := sha256.Sum256(f.body)
		f.etag = `"` + hex.EncodeToString(s[:12]) + `"`
	}
	return a, nil
}

func (a *assets) serve(name string) http.HandlerFunc {
	f := a.files[name]
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", f.typ)
		h.Set("ETag", f.etag)
		h.Set("Vary", "Accept-Encoding")
		h.Set("X-Content-Type-Options", "nosniff")
		if f.immutable && r.URL.Query().Get("v") != "" {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := f.body
		accept := r.Header.Get("Accept-Encoding")
		switch {
		case f.br != nil && acceptsEncoding(accept, "br"):
			h.Set("Content-Encoding", "br")
			body = f.br
		case f.gz != nil && acceptsEncoding(accept, "gzip"):
			h.Set("Content-Encoding", "gzip")
			body = f.gz
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	}
}

func acceptsEncoding(header, enc string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), enc) {
			return !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") || strings.Contains(params, "q=0.")
		}
	}
	return false
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
