package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/runtime"
)

func newInfoCmd() *cobra.Command {
	var (
		path    string
		tensors bool
		meta    bool
	)
	cmd := &cobra.Command{
		Use:   "info -m MODEL",
		Short: "Describe a model: architecture, parameters, tensors, dtypes, tokenizer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := runtime.OpenSource(path)
			if err != nil {
				return err
			}
			defer src.Close()
			return writeInfo(cmd.OutOrStdout(), src, path, tensors, meta)
		},
	}
	cmd.Flags().StringVarP(&path, "model", "m", "", "model: a GGUF file or a Hugging Face folder")
	cmd.Flags().BoolVar(&tensors, "tensors", true, "list the tensor table")
	cmd.Flags().BoolVar(&meta, "metadata", false, "list every GGUF metadata key")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

func writeInfo(w io.Writer, src runtime.Source, path string, tensors, meta bool) error {
	c := src.Config()
	fmt.Fprintf(w, "model:        %s\n", src.Name())
	fmt.Fprintf(w, "architecture: %s\n", c.Arch)
	fmt.Fprintf(w, "parameters:   %s (%d)\n", humanCount(c.Params()), c.Params())
	fmt.Fprintf(w, "layers:       %d, dim %d, ffn %d, heads %d (kv %d, head dim %d)\n", c.Layers, c.Dim, c.FFN, c.Heads, c.KVHeads, c.HeadDim)
	fmt.Fprintf(w, "context:      %d, rope %s theta %g", c.ContextLen, c.RopeMode, c.RopeTheta)
	if c.RopeScaling != nil {
		fmt.Fprintf(w, ", llama3 scaling ×%g", c.RopeScaling.Factor)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "vocabulary:   %d", c.VocabSize)
	if tok, err := src.Tokenizer(); err == nil {
		fmt.Fprintf(w, ", tokenizer %s, bos %d, eos %d", tok.Model(), tok.BOS(), tok.EOS())
	} else {
		fmt.Fprintf(w, ", tokenizer unavailable: %v", err)
	}
	fmt.Fprintln(w)
	if tmpl := src.ChatTemplate(); tmpl != "" {
		name := "unrecognised"
		if t, err := runtime.DetectChatTemplate(tmpl, ""); err == nil {
			name = t.Name
		}
		fmt.Fprintf(w, "chat:         %s template\n", name)
	}
	// The tensor table: every weight the graph reads, by dtype.
	built, err := llama.Build(c, src.Weights(), llama.BuildOptions{Tokens: 1, Context: 1})
	if err != nil {
		return err
	}
	ws := built.Graph.Leaves(graph.OpWeight)
	var total int64
	byType := map[string]int64{}
	for _, n := range ws {
		total += n.Bytes()
		byType[n.DType.String()] += n.Bytes()
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%s %s", t, humanBytes(byType[t]))
	}
	fmt.Fprintf(w, "weights:      %d tensors, %s (%s)\n", len(ws), humanBytes(total), strings.Join(parts, ", "))
	if tensors {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TENSOR\tTYPE\tSHAPE\tBYTES")
		for _, n := range ws {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\n", n.Name, n.DType, n.Shape, n.Bytes())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if meta {
		f, err := gguf.Open(path)
		if err != nil {
			return fmt.Errorf("info: --metadata needs a GGUF file: %w", err)
		}
		defer f.Close()
		fmt.Fprintln(w)
		for _, kv := range f.KV {
			s := fmt.Sprint(kv.Value.Any())
			if len(s) > 120 {
				s = s[:117] + "..."
			}
			fmt.Fprintf(w, "%s = %s\n", kv.Key, s)
		}
	}
	return nil
}

// humanCount formats a parameter count: 260.0K, 1.10B.
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
