// An empty program: its DWARF holds the runtime's layouts, which are the
// same for every program built by one Go release and configuration
// (tools/layouts/generate.sh records them).
package main

func main() {}
