package runtime_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/runtime"
)

func TestChatTemplates(t *testing.T) {
	msgs := []runtime.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "Hello."},
		{Role: "user", Content: "Bye"},
	}
	tests := []struct {
		name, jinja, want string
	}{
		{"chatml", "{% for m in messages %}<|im_start|>{{m.role}}", "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
		{"llama3", "<|start_header_id|>", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"llama2", "[INST] <<SYS>>", "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello.</s><s>[INST] Bye [/INST]"},
		{"mistral", "{{ '[INST] ' + message['content'] + ' [/INST]' }}", "<s>[INST] Be brief.\n\nHi [/INST] Hello.</s><s>[INST] Bye [/INST]"},
		{"phi3", "<|assistant|>", "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n"},
		{"gemma", "<start_of_turn>", "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := runtime.DetectChatTemplate(tc.jinja, "")
			require.NoError(t, err)
			require.Equal(t, tc.name, tmpl.Name)
			require.Equal(t, tc.want, tmpl.Render(msgs, true))
			require.NotEmpty(t, tmpl.Stop)
		})
	}
	_, err := runtime.DetectChatTemplate("{{ weird }}", "")
	require.ErrorContains(t, err, "not recognised")
	tmpl, err := runtime.DetectChatTemplate("", "chatml")
	require.NoError(t, err)
	require.Equal(t, "chatml", tmpl.Name)
	_, err = runtime.LookupChatTemplate("nope")
	require.ErrorContains(t, err, "known: chatml, gemma, llama2, llama3, mistral, phi3")
}
