package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/synth"
)

func newGenModelCmd() *cobra.Command {
	var (
		arch, shape, typ, vocab, out string
		seed                         uint64
		force                        bool
	)
	cmd := &cobra.Command{
		Use:   "gen-model --shape NAME -o out.gguf",
		Short: "Write a seeded random-weight model of a real shape (no download needed)",
		Long: `gen-model writes a Llama-architecture GGUF with seeded random weights and the
shape of a real model, for benchmarks and parity runs. The tokenizer is copied
from --vocab (any GGUF with tokenizer.* keys, e.g. a file of
../shared/testdata/vocab); without it a synthetic vocabulary is made.

Shapes: ` + strings.Join(synth.PresetNames(), ", ") + `, or a custom spec such as
"dim=512,layers=4,heads=8,kv=4,ffn=1376,ctx=1024,theta=10000".

The file's size is computed first and refused when it exceeds the free disk
space. -o is written through a temporary file renamed into place; an
existing file is replaced only with --force, and never when it is not a
regular file.`,
		Example: `  golem gen-model --shape 110m --type q8_0 --vocab ../shared/testdata/vocab/ggml-vocab-llama-spm.gguf -o 110m.gguf`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if arch != "llama" {
				return fmt.Errorf("gen-model: --arch %q: only llama is generated", arch)
			}
			s, err := synth.Lookup(shape)
			if err != nil {
				return err
			}
			dt, err := graph.ParseDType(typ)
			if err != nil {
				return fmt.Errorf("gen-model: --type: %w", err)
			}
			o := synth.Options{
				Type: dt, Seed: seed, Vocab: vocab, Force: force,
				Progress: progressBar(cmd.ErrOrStderr(), "writing "+out),
			}
			cfg, err := synth.Config(s, o)
			if err != nil {
				return err
			}
			if err := synth.Write(cmd.Context(), out, s, o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s, %d parameters, %s weights, seed %d\n", out, s.Name, cfg.Params(), dt, seed)
			return nil
		},
	}
	cmd.Flags().StringVar(&arch, "arch", "llama", "architecture (llama)")
	cmd.Flags().StringVar(&shape, "shape", "tiny", "preset name or custom spec")
	cmd.Flags().StringVar(&typ, "type", "f32", "weight type of the matrices: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k")
	cmd.Flags().StringVar(&vocab, "vocab", "", "GGUF whose tokenizer is copied")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed; the same seed gives the same file")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output GGUF path")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "replace the output file if it exists")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}
