package convert_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/convert"
	"github.com/golem-llm/golem/model/safetensors/hftest"
)

// BenchmarkConvert converts a 12M-parameter BF16 Llama to each output type.
func BenchmarkConvert(b *testing.B) {
	tok, _, err := hftest.ByteLevelTokenizerJSON(nil, []string{"<|endoftext|>"})
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "bench")
	spec := hftest.Spec{Arch: "LlamaForCausalLM", Dim: 512, Layers: 2, Heads: 8, KVHeads: 4, FFN: 1408, Vocab: 4096, DType: "BF16", Tokenizer: tok}
	if _, err := hftest.Write(dir, spec, nil); err != nil {
		b.Fatal(err)
	}
	for _, typ := range []graph.DType{graph.F16, graph.Q8_0, graph.Q4_0} {
		b.Run(typ.String(), func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "out.gguf")
			for b.Loop() {
				if err := convert.Convert(context.Background(), dir, out, typ, convert.Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
