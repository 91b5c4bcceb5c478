package dirlock_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/lenscore/lenscore/dirlock"
)

// A run locks its output folder; a second run into the same folder is
// refused at once, while the shards of one run take one name each.
func Example() {
	dir, _ := os.MkdirTemp("", "dirlock-example")
	defer os.RemoveAll(dir)

	run, err := dirlock.Acquire(dir, dirlock.DefaultName)
	if err != nil {
		panic(err)
	}
	_, err = dirlock.Acquire(dir, dirlock.DefaultName)
	fmt.Println("second run refused:", errors.Is(err, dirlock.ErrHeld))
	run.Release()

	s0, err0 := dirlock.Acquire(dir, "shard-0")
	s1, err1 := dirlock.Acquire(dir, "shard-1")
	fmt.Println("two shards side by side:", err0 == nil && err1 == nil)
	s0.Release()
	s1.Release()
	// Output:
	// second run refused: true
	// two shards side by side: true
}
