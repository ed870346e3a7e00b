package golem_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/golem-llm/golem"
	"github.com/golem-llm/golem/internal/sharedtest"
)

// The examples and tests run against the TinyStories 260K checkpoint in
// ../shared (see ../shared/README.md).
func TestMain(m *testing.M) {
	sharedtest.MainPath("models", "stories260K.gguf")
	os.Exit(m.Run())
}

// Greedy decoding of a prompt, token by token.
func ExampleModel_Generate() {
	ctx := context.Background()
	m, err := golem.Open(ctx, "../shared/models/stories260K.gguf", golem.Options{Device: "cpu"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	fmt.Print("Once upon a time")
	for tok, err := range m.Generate(ctx, "Once upon a time", golem.GenerateOptions{MaxTokens: 16}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Print(tok.Text)
		if tok.End != nil {
			fmt.Printf("\n[%d tokens, stop: %s]\n", tok.End.GenTokens, tok.End.Stop)
		}
	}
	// Output:
	// Once upon a time, there was a little girl named Lily. She loved to play
	// [16 tokens, stop: length]
}

// Several goroutines generate at once: their sequences are decoded
// together, one batched step per token, and each gets what it would get
// alone.
func ExampleModel_Generate_concurrent() {
	ctx := context.Background()
	m, err := golem.Open(ctx, "../shared/models/stories260K.gguf", golem.Options{Device: "cpu", Parallel: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	prompts := []string{"Once upon a time", "The cat", "Tom had a big"}
	texts := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b strings.Builder
			for tok, err := range m.Generate(ctx, p, golem.GenerateOptions{MaxTokens: 12}) {
				if err != nil {
					b.WriteString(err.Error())
					break
				}
				b.WriteString(tok.Text)
			}
			texts[i] = p + b.String()
		}()
	}
	wg.Wait()
	for _, t := range texts {
		fmt.Println(t)
	}
	// Output:
	// Once upon a time, there was a little girl named Lily. She
	// The cat and a boy were playing in the p
	// Tom had a big box. He liked to play with his to
}

// A conversation that keeps its KV cache between turns: the second turn
// runs only the tokens the cache does not hold yet.
func ExampleModel_NewSession() {
	ctx := context.Background()
	// stories260K has no chat template: chatml is used instead.
	m, err := golem.Open(ctx, "../shared/models/stories260K.gguf", golem.Options{Device: "cpu", Context: 512, ChatTemplate: "chatml"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	s, err := m.NewSession(golem.SessionOptions{System: "You tell stories."})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for _, msg := range []string{"Tell me a story", "And then?"} {
		var end *golem.Stats
		for tok, err := range s.Chat(ctx, msg, golem.GenerateOptions{MaxTokens: 8}) {
			if err != nil {
				fmt.Println(err)
				return
			}
			end = tok.End
		}
		fmt.Printf("%d prompt tokens, %d of them cached\n", end.PromptTokens, end.CachedTokens)
	}
	fmt.Println(len(s.Messages()), "messages")
	// Output:
	// 81 prompt tokens, 0 of them cached
	// 140 prompt tokens, 88 of them cached
	// 5 messages
}

// Text to token ids and back.
func ExampleModel_Tokenize() {
	ctx := context.Background()
	m, err := golem.Open(ctx, "../shared/models/stories260K.gguf", golem.Options{Device: "cpu"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ids := m.Tokenize("Hello world", golem.TokenizeOptions{})
	fmt.Println(ids)
	var pieces []string
	for _, id := range ids[1:] {
		pieces = append(pieces, fmt.Sprintf("%q", m.Tokenizer().Piece(id)))
	}
	fmt.Println(strings.Join(pieces, " "))
	fmt.Println(m.Detokenize(ids))
	// Output:
	// [1 346 306 414 263 304 341]
	// " He" "ll" "o" " w" "or" "ld"
	// Hello world
}

// A tokenizer alone, without loading the model's weights.
func ExampleOpenTokenizer() {
	tok, err := golem.OpenTokenizer("../shared/models/stories260K.gguf")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.VocabSize(), tok.Tokenize("Once upon a time", golem.TokenizeOptions{NoBOS: true}))
	// Output:
	// 512 [403 407 261 378]
}
