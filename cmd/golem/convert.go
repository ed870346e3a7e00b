package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/convert"
)

func newConvertCmd() *cobra.Command {
	var (
		typ, name      string
		threads        int
		force          bool
		allowNonFinite bool
	)
	cmd := &cobra.Command{
		Use:   "convert HF_DIR OUT.gguf",
		Short: "Convert a Hugging Face checkpoint folder to GGUF",
		Long: `convert reads a Hugging Face folder (config.json, model.safetensors or a sharded
model.safetensors.index.json, tokenizer.json) and writes a GGUF that llama.cpp
accepts: llama.cpp's tensor names and metadata keys, Q and K permuted for its
RoPE layout (Llama, Mistral), and 2-D weights stored as --type.

A NaN or infinite weight (or one f16 or bf16 would store as infinite) is an
error naming the tensor and the element, for every --type. --allow-nonfinite
writes such values to f32, f16 and bf16 tensors; q8_0 and q4_0 blocks cannot
hold them, so those types still refuse them.

OUT.gguf is written through a temporary file in its directory and renamed
into place when complete; an existing OUT.gguf is replaced only with --force,
and never when it is not a regular file (a directory, device, FIFO or
symbolic link). The free disk space is checked first; Ctrl-C stops the
conversion and removes the temporary files.`,
		Example: `  golem convert ./Llama-3.2-1B out.gguf --type q8_0`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dt, err := graph.ParseDType(typ)
			if err != nil {
				return fmt.Errorf("convert: --type: %w", err)
			}
			err = convert.Convert(cmd.Context(), args[0], args[1], dt, convert.Options{
				Name: name, Threads: threads, Force: force, AllowNonFinite: allowNonFinite,
				Progress: progressBar(cmd.ErrOrStderr(), "converting "+args[0]),
			})
			if errors.Is(err, convert.ErrNonFinite) {
				return fmt.Errorf("%w (--allow-nonfinite writes them to f32, f16 and bf16 tensors)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s)\n", args[1], dt)
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "f16", "weight type: f32, f16, bf16, q8_0 or q4_0")
	cmd.Flags().StringVar(&name, "name", "", "general.name (default: the folder's name)")
	cmd.Flags().IntVarP(&threads, "threads", "t", 0, "conversion threads (0: all cores)")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "replace OUT.gguf if it exists")
	cmd.Flags().BoolVar(&allowNonFinite, "allow-nonfinite", false, "write NaN and infinite weights to f32, f16 and bf16 tensors instead of refusing them")
	return cmd
}
