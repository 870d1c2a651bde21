// Package web holds the files the browser gets: templates and static assets,
// embedded in the binary so one file is the whole deployment. It imports nothing of
// Tollgate's own, so the screens can change without touching the gateway.
//
// Third-party assets live in static/vendor/, copied from their npm packages by
// scripts/vendor-assets.sh (pinned versions and tarball integrity, licences beside
// them); nothing is fetched at build or run time.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"sync"
)

//go:embed static templates
var files embed.FS

// Static is the tree of static assets, rooted at "static".
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree always has the directory
	}
	return sub
}

// Templates is the tree of html/template files, rooted at "templates": layout.html
// and partials/*.html are shared, each file in pages/ is one screen.
func Templates() fs.FS {
	sub, err := fs.Sub(files, "templates")
	if err != nil {
		panic(err) // the embedded tree always has the directory
	}
	return sub
}

var (
	sumsOnce sync.Once
	sums     map[string]string
)

// Checksum returns a short content hash of a static asset, for URLs that can be
// cached forever: the URL changes whenever the file does. Empty if there is no such file.
func Checksum(name string) string {
	sumsOnce.Do(func() {
		sums = map[string]string{}
		_ = fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(Static(), p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			sums[path.Clean(p)] = hex.EncodeToString(h[:])[:12]
			return nil
		})
	})
	return sums[path.Clean(name)]
}
