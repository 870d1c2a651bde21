package web

import (
	"io/fs"
	"testing"
)

func TestChecksumChangesWithContent(t *testing.T) {
	sum := Checksum("tollgate.css")
	if len(sum) != 12 {
		t.Fatalf("checksum %q", sum)
	}
	if Checksum("missing.css") != "" {
		t.Fatal("checksum of a missing file")
	}
	if _, err := fs.ReadFile(Static(), "tollgate.css"); err != nil {
		t.Fatal(err)
	}
}
