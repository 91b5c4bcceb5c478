package atomicfile_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lenscore/lenscore/atomicfile"
)

// Write a file in one piece, then stream one: a reader never sees a half
// written file, and a failed write leaves the previous contents.
func Example() {
	dir, _ := os.MkdirTemp("", "atomicfile-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "summary.txt")

	if err := atomicfile.WriteFile(path, []byte("first\n")); err != nil {
		panic(err)
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		fmt.Fprintln(w, "second, half written")
		return fmt.Errorf("the computation failed")
	})
	b, _ := os.ReadFile(path)
	fmt.Printf("error: %v\nfile: %s", err != nil, b)
	// Output:
	// error: true
	// file: first
}
