// pcframes prints what the Go runtime itself says about some of its own
// program counters, as the truth for tests/unit/test_pclntab.c:
//
//	pc 0x<pc>\t<function>\t<file>\t<line>
//		for each pc of a runtime.Callers stack taken inside functions
//		inlined two and three deep: the frame that runtime.CallersFrames
//		gives for that pc alone (the innermost function at pc-1);
//	entry 0x<entry>\t<name>
//		for some functions, closures, methods and generic instances:
//		runtime.FuncForPC of their entry.
//
// Build it with -gcflags=-S too: the compiler's listing of main.keep gives
// the exact bytes of its stack maps (FUNCDATA $0 and $1, gclocals·...).
// Builds with Go 1.19 to 1.27 (go.mod: go 1.19; no newer language features).
package main

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
)

type node struct {
	next *node
	v    int
}

type counter struct{ n int }

var pcs = make([]uintptr, 64)

//go:noinline
func capture(depth int) int {
	return runtime.Callers(1, pcs) + depth
}

// leaf, middle and (*counter).add are small enough to be inlined into
// outer, three deep.
func leaf(depth int) int {
	return capture(depth)
}

func middle(depth int) int {
	return leaf(depth+1) * 2
}

func (c *counter) add(d int) int {
	c.n += middle(d)
	return c.n
}

//go:noinline
func outer(c *counter) int {
	return c.add(3) + 1
}

//go:noinline
func generic[T any](x T, c *counter) int {
	_ = x
	return outer(c)
}

//go:noinline
func use(p *node) {
	if p != nil && p.v == 12345 {
		println("unreachable")
	}
}

// keep has pointer arguments and pointer locals live across calls: its
// stack maps have several bit vectors.
//
//go:noinline
func keep(a *node, n int, b []byte, s string) *node {
	x := &node{next: a, v: n}
	var arr [4]*node
	arr[n&3] = x
	use(x)
	use(arr[1])
	if len(b) > len(s) {
		use(a)
	}
	y := &node{next: arr[2]}
	use(y)
	return y.next
}

func printEntry(fn interface{}) {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	fmt.Printf("entry %#x\t%s\n", f.Entry(), f.Name())
}

func main() {
	c := &counter{}
	n := generic[string]("x", c)
	n = 0
	for i := range pcs {
		if pcs[i] != 0 {
			n = i + 1
		}
	}
	for _, pc := range pcs[:n] {
		fr, _ := runtime.CallersFrames([]uintptr{pc}).Next()
		fmt.Printf("pc %#x\t%s\t%s\t%d\n", pc, fr.Function, fr.File, fr.Line)
	}
	closure := func() int { return c.n * 2 }
	bound := c.add
	printEntry(main)
	printEntry(outer)
	printEntry(generic[int])
	printEntry(keep)
	printEntry(closure)
	printEntry(bound)
	printEntry((*counter).add)
	if len(os.Args) > 5 {
		keep(nil, closure(), nil, "")
	}
}
