package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	for _, data := range [][]byte{[]byte("first"), bytes.Repeat([]byte{7}, 200000), {}} {
		if err := WriteFile(path, data); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, wrote %d", len(got), len(data))
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o444 != 0o444 {
		t.Errorf("mode %v is not readable by all (CreateTemp's 0600 kept)", st.Mode().Perm())
	}
	assertOnly(t, dir, "a.bin")
}

// A failing writer leaves the old contents and no temporary file.
func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keep.txt")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("partial new contents"))
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v: want boom, naming %s", err, path)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "old" {
		t.Fatalf("target now holds %q, want the old contents", got)
	}
	assertOnly(t, dir, "keep.txt")
}

func TestWriteMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "f.txt")
	err := WriteFile(path, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one naming %s", err, path)
	}
}

func TestCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.txt")
	if err := Copy(path, strings.NewReader("streamed")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "streamed" {
		t.Fatalf("got %q", got)
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, e := range ents {
		have = append(have, e.Name())
	}
	if strings.Join(have, ",") != strings.Join(names, ",") {
		t.Fatalf("directory holds %v, want %v (temporary file left behind?)", have, names)
	}
}
