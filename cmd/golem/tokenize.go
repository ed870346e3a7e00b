package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem"
)

// maxTokenizeInput is the most bytes tokenize and detokenize read from stdin.
const maxTokenizeInput = 64 << 20

// readArg returns the command's one argument, or all of stdin for "-".
func readArg(cmd *cobra.Command, arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxTokenizeInput+1))
	if err != nil {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	if len(data) > maxTokenizeInput {
		return "", fmt.Errorf("stdin holds more than %d MiB", maxTokenizeInput>>20)
	}
	return string(data), nil
}

func newTokenizeCmd() *cobra.Command {
	var (
		path                        string
		ids, pieces, noBOS, special bool
	)
	cmd := &cobra.Command{
		Use:   "tokenize -m MODEL [--ids | --pieces] [--no-bos] [--special] TEXT|-",
		Short: "Print the token ids of a text",
		Long: `tokenize prints the token ids of TEXT (or of stdin, for "-") in the model's
vocabulary, on one line as llama.cpp's llama-tokenize --ids prints them
([1, 15043, 3186]), or with --pieces one token a line with the text it
stands for (     1 -> '<s>' as llama-tokenize prints them, control tokens
by their name).

Only the tokenizer is read: a GGUF without weights (llama.cpp's vocab-only
files) will do. The tokens the vocabulary adds around a text (BOS) are
added unless --no-bos; the texts of control tokens ("<s>", "<|im_start|>")
stay text unless --special.`,
		Example: `  golem tokenize -m ../shared/models/stories260K.gguf "Hello world"
  echo "Hello world" | golem tokenize -m model.gguf --pieces -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ids && pieces {
				return errors.New("tokenize: --ids and --pieces: choose one")
			}
			text, err := readArg(cmd, args[0])
			if err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
			tok, err := golem.OpenTokenizer(path)
			if err != nil {
				return err
			}
			toks := tok.Tokenize(text, golem.TokenizeOptions{NoBOS: noBOS, ParseSpecial: special})
			out := cmd.OutOrStdout()
			if pieces {
				for _, id := range toks {
					fmt.Fprintf(out, "%6d -> '%s'\n", id, tok.Piece(id))
				}
				return nil
			}
			fmt.Fprintln(out, formatIDs(toks))
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "model", "m", "", "model or vocabulary: a GGUF file or a Hugging Face folder")
	cmd.Flags().BoolVar(&ids, "ids", false, "print the ids on one line, [1, 2, 3] (the default)")
	cmd.Flags().BoolVar(&pieces, "pieces", false, "print one token a line: its id and the text it stands for")
	cmd.Flags().BoolVar(&noBOS, "no-bos", false, "do not add the tokens the vocabulary asks for around a text (BOS)")
	cmd.Flags().BoolVar(&special, "special", false, "turn the texts of control tokens into those tokens")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// formatIDs writes ids as llama-tokenize --ids does: [1, 2, 3].
func formatIDs(ids []int32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	b.WriteByte(']')
	return b.String()
}

// parseIDs reads token ids separated by spaces or commas, optionally in
// brackets: "1 2 3", "1,2,3" and "[1, 2, 3]" alike.
func parseIDs(s string) ([]int32, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == '[' || r == ']' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	ids := make([]int32, 0, len(fields))
	for _, f := range fields {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a token id", f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}

func newDetokenizeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "detokenize -m MODEL IDS...|-",
		Short: "Print the text of token ids",
		Long: `detokenize prints the text of token ids given as arguments or on stdin ("-"),
separated by spaces or commas and optionally in brackets, so that what
tokenize prints reads back: control tokens give no text, byte tokens join
into UTF-8, and the space a SentencePiece vocabulary puts before a text is
removed. An id outside the vocabulary is an error.`,
		Example: `  golem detokenize -m ../shared/models/stories260K.gguf 1 346 306 414 263 304 341
  golem tokenize -m model.gguf "Hello" | golem detokenize -m model.gguf -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := strings.Join(args, " ")
			if len(args) == 1 {
				var err error
				if in, err = readArg(cmd, args[0]); err != nil {
					return fmt.Errorf("detokenize: %w", err)
				}
			}
			ids, err := parseIDs(in)
			if err != nil {
				return fmt.Errorf("detokenize: %w", err)
			}
			tok, err := golem.OpenTokenizer(path)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					return fmt.Errorf("detokenize: token %d outside the vocabulary of %d", id, tok.VocabSize())
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok.Detokenize(ids))
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "model", "m", "", "model or vocabulary: a GGUF file or a Hugging Face folder")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}
