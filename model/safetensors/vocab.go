package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/golem-llm/golem/internal/safefile"
	"github.com/golem-llm/golem/model/tokenizer"
)

// tokenizerConfig holds the fields of tokenizer_config.json that golem reads.
type tokenizerConfig struct {
	AddBOS       *bool           `json:"add_bos_token"`
	AddEOS       *bool           `json:"add_eos_token"`
	BOS          json.RawMessage `json:"bos_token"`
	EOS          json.RawMessage `json:"eos_token"`
	UNK          json.RawMessage `json:"unk_token"`
	PAD          json.RawMessage `json:"pad_token"`
	ChatTemplate json.RawMessage `json:"chat_template"`
}

// tokenText reads a special token entry: a string, {"content": "..."} or null.
func tokenText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Content != "" {
		return obj.Content, true
	}
	return "", false
}

// readOptional returns the contents of a file of the folder, nil when it
// does not exist.
func (m *Model) readOptional(name string) ([]byte, error) {
	data, err := safefile.ReadFile(filepath.Join(m.Dir, name), maxJSONBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return data, nil
}

func (m *Model) tokenizerConfig() (*tokenizerConfig, error) {
	var tc tokenizerConfig
	data, err := m.readOptional(TokenizerConfigFile)
	if err != nil || data == nil {
		return &tc, err
	}
	if err := json.Unmarshal(data, &tc); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", filepath.Join(m.Dir, TokenizerConfigFile), err)
	}
	return &tc, nil
}

// Vocab reads the vocabulary from tokenizer.json, with the special tokens
// and add_bos/add_eos of tokenizer_config.json, and the token ids of
// config.json and generation_config.json for special tokens still unknown
// (the precedence of llama.cpp's converter).
func (m *Model) Vocab() (*tokenizer.Vocab, error) {
	path := filepath.Join(m.Dir, TokenizerFile)
	data, err := safefile.ReadFile(path, maxJSONBytes)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	v, err := tokenizer.VocabFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	v.Name = m.Name()
	tc, err := m.tokenizerConfig()
	if err != nil {
		return nil, err
	}
	find := func(s string) int32 {
		for i := len(v.Tokens) - 1; i >= 0; i-- { // added tokens are last
			if v.Tokens[i] == s {
				return int32(i)
			}
		}
		return -1
	}
	for _, e := range []struct {
		raw json.RawMessage
		id  *int32
	}{{tc.BOS, &v.BOS}, {tc.EOS, &v.EOS}, {tc.UNK, &v.UNK}, {tc.PAD, &v.PAD}} {
		if s, ok := tokenText(e.raw); ok {
			if id := find(s); id >= 0 {
				*e.id = id
			}
		}
	}
	if tc.AddBOS != nil {
		v.AddBOS = *tc.AddBOS
	}
	if tc.AddEOS != nil {
		v.AddEOS = *tc.AddEOS
	}
	gen := &HFConfig{}
	if data, err := m.readOptional(GenerationConfigFile); err != nil {
		return nil, err
	} else if data != nil {
		if gen, err = ParseConfig(data); err != nil {
			return nil, fmt.Errorf("%w (%s in %s)", err, GenerationConfigFile, m.Dir)
		}
	}
	for _, e := range []struct {
		id   *int32
		raws []json.RawMessage
	}{
		{&v.BOS, []json.RawMessage{m.HF.BOSTokenID, gen.BOSTokenID}},
		{&v.EOS, []json.RawMessage{m.HF.EOSTokenID, gen.EOSTokenID}},
		{&v.PAD, []json.RawMessage{m.HF.PadTokenID, gen.PadTokenID}},
	} {
		for _, raw := range e.raws {
			if ids := TokenIDs(raw); *e.id < 0 && len(ids) > 0 && ids[0] >= 0 && int(ids[0]) < len(v.Tokens) {
				*e.id = ids[0]
			}
		}
	}
	return v, nil
}

// Tokenizer builds the model's tokenizer from Vocab.
func (m *Model) Tokenizer() (*tokenizer.Tokenizer, error) {
	v, err := m.Vocab()
	if err != nil {
		return nil, err
	}
	t, err := tokenizer.New(v)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, m.Dir)
	}
	return t, nil
}

// ChatTemplate returns the chat template: tokenizer_config.json's
// chat_template (the one named "default" when it lists several), else the
// contents of chat_template.jinja, else "".
func (m *Model) ChatTemplate() string {
	tc, err := m.tokenizerConfig()
	if err == nil {
		raw := bytes.TrimSpace(tc.ChatTemplate)
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return s
		}
		var list []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
		}
		if json.Unmarshal(raw, &list) == nil {
			for _, t := range list {
				if t.Name == "default" {
					return t.Template
				}
			}
		}
	}
	if data, err := m.readOptional(ChatTemplateFile); err == nil && data != nil {
		return string(data)
	}
	return ""
}
