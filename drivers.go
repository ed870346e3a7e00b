package golem

// The backends a program that imports golem can open. Each registers its
// driver in init; nothing below this package imports a concrete backend.
import (
	_ "github.com/golem-llm/golem/backend/cpu"
	_ "github.com/golem-llm/golem/backend/cuda"
	_ "github.com/golem-llm/golem/backend/vulkan"
)
