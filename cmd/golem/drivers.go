package main

// The backends linked into the binary. Each registers its driver in init;
// nothing else in golem imports a concrete backend.
import (
	_ "github.com/golem-llm/golem/backend/cpu"
	_ "github.com/golem-llm/golem/backend/cuda"
	_ "github.com/golem-llm/golem/backend/vulkan"
)
