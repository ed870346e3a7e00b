// Command golem runs transformer language models on CUDA, Vulkan or pure-Go
// CPU kernels. Run "golem help" for the commands.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "golem:", err)
		os.Exit(1)
	}
}
