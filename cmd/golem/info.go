package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/tokenizer"
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
		Long: `info describes a model. For any valid GGUF file, whatever its architecture and
even with no tensors (a vocabulary-only file), it prints the format, the
architecture, the tokenizer, the tensor table from the file's own tensor list and,
with --metadata, every metadata key; the line "golem can run" says whether golem
can run the file and, if not, why. For a model golem can run it also prints the
hyper-parameters. A Hugging Face folder is described when golem can run it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if st, err := os.Stat(path); err == nil && !st.IsDir() {
				return writeGGUFInfo(cmd.OutOrStdout(), path, tensors, meta)
			}
			if meta {
				return fmt.Errorf("info: --metadata needs a GGUF file, not the folder %s", path)
			}
			src, err := runtime.OpenSource(path)
			if err != nil {
				return err
			}
			defer src.Close()
			return writeSourceInfo(cmd.OutOrStdout(), src, tensors)
		},
	}
	cmd.Flags().StringVarP(&path, "model", "m", "", "model: a GGUF file or a Hugging Face folder")
	cmd.Flags().BoolVar(&tensors, "tensors", true, "list the tensor table")
	cmd.Flags().BoolVar(&meta, "metadata", false, "list every GGUF metadata key")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// writeGGUFInfo describes any valid GGUF file, and whether golem can run it.
func writeGGUFInfo(w io.Writer, path string, tensors, meta bool) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(w, "model:        %s\n", path)
	fmt.Fprintf(w, "format:       GGUF v%d, %d metadata keys, %d tensors\n", f.Version, len(f.KV), len(f.Tensors))
	arch := f.Architecture()
	if arch == "" {
		arch = "none (no general.architecture)"
	}
	fmt.Fprintf(w, "architecture: %s\n", arch)

	// What golem would do with the file: open it as a model (hyper-parameters,
	// block count), build its tokenizer and its graph (every tensor present,
	// of the right shape and a supported type).
	var reason error
	var src runtime.Source
	if len(f.Tensors) == 0 {
		reason = fmt.Errorf("vocab-only: no tensors")
	} else if src, reason = runtime.OpenGGUF(path); reason == nil {
		defer src.Close()
		if _, reason = src.Tokenizer(); reason == nil {
			_, reason = llama.Build(src.Config(), src.Weights(), llama.BuildOptions{Tokens: 1, Context: 1})
		}
	}
	if reason == nil {
		writeConfig(w, src.Config())
	}
	// The file's name is on the first line already.
	brief := func(err error) error {
		if err == nil {
			return nil
		}
		return errors.New(strings.ReplaceAll(err.Error(), path+": ", ""))
	}
	var tok *tokenizer.Tokenizer
	if _, ok := f.Get("tokenizer.ggml.model"); ok {
		tok, err = tokenizer.FromGGUF(f)
	}
	tmpl, _ := f.GetString("tokenizer.chat_template")
	writeTokenizer(w, tok, brief(err), tmpl)
	if reason != nil {
		fmt.Fprintf(w, "golem can run: no (%s)\n", brief(reason))
	} else {
		fmt.Fprintln(w, "golem can run: yes")
	}

	var total int64
	byType := map[string]int64{}
	for _, t := range f.Tensors {
		total += t.Size
		byType[gguf.GGMLTypeName(t.GGMLType)] += t.Size
	}
	if len(f.Tensors) == 0 {
		fmt.Fprintln(w, "weights:      0 tensors")
	} else {
		fmt.Fprintf(w, "weights:      %d tensors, %s%s\n", len(f.Tensors), humanBytes(total), typeSummary(byType))
	}
	if tensors && len(f.Tensors) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TENSOR\tTYPE\tSHAPE\tBYTES")
		for _, t := range f.Tensors {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\n", t.Name, gguf.GGMLTypeName(t.GGMLType), t.Shape, t.Size)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if meta {
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

// writeSourceInfo describes a model golem can open (a Hugging Face folder):
// its tensor table lists the weights the graph reads.
func writeSourceInfo(w io.Writer, src runtime.Source, tensors bool) error {
	c := src.Config()
	fmt.Fprintf(w, "model:        %s\n", src.Name())
	fmt.Fprintf(w, "architecture: %s\n", c.Arch)
	built, err := llama.Build(c, src.Weights(), llama.BuildOptions{Tokens: 1, Context: 1})
	if err != nil {
		return fmt.Errorf("info: %s: %w", src.Name(), err)
	}
	writeConfig(w, c)
	tok, err := src.Tokenizer()
	writeTokenizer(w, tok, err, src.ChatTemplate())
	fmt.Fprintln(w, "golem can run: yes")
	ws := built.Graph.Leaves(graph.OpWeight)
	var total int64
	byType := map[string]int64{}
	for _, n := range ws {
		total += n.Bytes()
		byType[n.DType.String()] += n.Bytes()
	}
	fmt.Fprintf(w, "weights:      %d tensors, %s%s\n", len(ws), humanBytes(total), typeSummary(byType))
	if tensors {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TENSOR\tTYPE\tSHAPE\tBYTES")
		for _, n := range ws {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\n", n.Name, n.DType, n.Shape, n.Bytes())
		}
		return tw.Flush()
	}
	return nil
}

// writeConfig prints the hyper-parameters of a model golem can run.
func writeConfig(w io.Writer, c *llama.Config) {
	fmt.Fprintf(w, "parameters:   %s (%d)\n", humanCount(c.Params()), c.Params())
	fmt.Fprintf(w, "layers:       %d, dim %d, ffn %d, heads %d (kv %d, head dim %d)\n", c.Layers, c.Dim, c.FFN, c.Heads, c.KVHeads, c.HeadDim)
	fmt.Fprintf(w, "context:      %d, rope %s theta %g", c.ContextLen, c.RopeMode, c.RopeTheta)
	if c.RopeScaling != nil {
		fmt.Fprintf(w, ", llama3 scaling ×%g", c.RopeScaling.Factor)
	}
	fmt.Fprintln(w)
}

// writeTokenizer prints the vocabulary and chat template lines. A nil
// tokenizer with a nil error means the model has no vocabulary.
func writeTokenizer(w io.Writer, tok *tokenizer.Tokenizer, err error, tmpl string) {
	switch {
	case err != nil:
		fmt.Fprintf(w, "vocabulary:   tokenizer unavailable: %v\n", err)
	case tok == nil:
		fmt.Fprintln(w, "vocabulary:   none (no tokenizer.ggml.model)")
	default:
		fmt.Fprintf(w, "vocabulary:   %d, tokenizer %s, bos %d, eos %d\n", tok.VocabSize(), tok.Model(), tok.BOS(), tok.EOS())
	}
	if tmpl != "" {
		name := "unrecognised"
		if t, err := runtime.DetectChatTemplate(tmpl, ""); err == nil {
			name = t.Name
		}
		fmt.Fprintf(w, "chat:         %s template\n", name)
	}
}

// typeSummary formats bytes per type: " (f32 1.1 MiB, q8_0 2.0 MiB)", or ""
// when there are none.
func typeSummary(byType map[string]int64) string {
	if len(byType) == 0 {
		return ""
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
	return " (" + strings.Join(parts, ", ") + ")"
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
