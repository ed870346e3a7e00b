// Package golem runs transformer language models (GGUF files, Hugging Face
// folders) on CUDA, Vulkan or golem's own CPU kernels, chosen at run time.
//
// Open loads a model onto a device; the Model generates text from a prompt
// (Generate), continues a conversation in the model's chat format (Chat) or
// keeps one going with its KV cache (NewSession), and converts text to
// tokens and back (Tokenize, Detokenize). Generation is an iterator of
// tokens:
//
//	m, err := golem.Open(ctx, "model.gguf", golem.Options{})
//	if err != nil { ... }
//	defer m.Close()
//	for tok, err := range m.Generate(ctx, "Once upon a time", golem.GenerateOptions{MaxTokens: 50}) {
//		if err != nil { ... }
//		fmt.Print(tok.Text)
//	}
//
// A Model is safe for concurrent use: requests from many goroutines are
// decoded together, Options.Parallel at a time, in one batched step per
// token (the weights are read once for all of them), and wait in a bounded
// queue beyond that (ErrQueueFull when it is full). Greedy output does not
// depend on what else runs: on the CPU backends a sequence decoded in a
// batch gets, bit for bit, what it gets alone.
//
// Errors wrap sentinels matched with errors.Is: ErrNoDevice,
// ErrDeviceUnavailable, ErrContextFull, ErrQueueFull, ErrNonFinite,
// ErrClosed, ErrBusy, ErrNoChatTemplate, ErrEmptyPrompt, ErrChatMessages.
// Errors from the layers below name
// their layer ("runtime: ...", "backend: ..."); this package's own name
// what they are about ("model closed"), and option errors name the field
// ("golem: Options.KVType q4_0: want f32, f16 or bf16").
package golem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/optcheck"
	"github.com/golem-llm/golem/runtime"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNoDevice: no device matches Options.Device.
	ErrNoDevice = backend.ErrNoDevice
	// ErrDeviceUnavailable: the device exists but cannot be used (its
	// driver library is missing, it lacks a feature golem needs); the
	// message gives the reason.
	ErrDeviceUnavailable = backend.ErrUnavailable
	// ErrContextFull: a prompt (or conversation) longer than the context.
	ErrContextFull = runtime.ErrContextFull
	// ErrQueueFull: every sequence is busy and the queue of waiting
	// requests is full (Options.Queue); try again later.
	ErrQueueFull = runtime.ErrQueueFull
	// ErrNonFinite: the model's logits held NaN or ±Inf (broken weights or
	// hyper-parameters); the error is a *NonFiniteError.
	ErrNonFinite = runtime.ErrNonFinite
	// ErrClosed: the Model or Session was closed.
	ErrClosed = backend.ErrClosed
	// ErrBusy: a Session is already generating (one request at a time).
	ErrBusy = runtime.ErrCacheInUse
	// ErrNoChatTemplate: the model has no chat template golem recognises
	// and Options.ChatTemplate names none.
	ErrNoChatTemplate = errors.New("no chat template")
	// ErrEmptyPrompt: Generate was given a prompt of no tokens (empty
	// text, and the model adds no BOS token).
	ErrEmptyPrompt = errors.New("the prompt is empty and the model adds no BOS token")
	// ErrChatMessages: Chat was given a conversation the model's chat
	// template refuses, as its Jinja original does (roles that do not
	// alternate, a system message the format has no place for, an
	// unknown role).
	ErrChatMessages = runtime.ErrChatMessages
)

// FieldError is an option field out of its range, as Options.Validate and
// GenerateOptions.Validate report it (errors.As): Struct is "Options" or
// "GenerateOptions", Field the field's name ("TopP"), Value the value and
// Want what is accepted.
type FieldError = optcheck.FieldError

// NonFiniteError reports logits holding NaN or ±Inf: the position, the
// first bad logit, and the tokens fed up to it (Model.LocateNonFinite runs
// them again to find the first bad activation).
type NonFiniteError = runtime.NonFiniteError

// DefaultQueue is how many requests may wait for a free sequence when
// Options.Queue is 0.
const DefaultQueue = runtime.DefaultQueue

// DefaultContext is the most KV cache tokens per sequence when
// Options.Context is 0 (a model trained on fewer gets its trained context).
const DefaultContext = runtime.DefaultContext

// DefaultKVType is the KV cache element type when Options.KVType is "":
// graph.DefaultKVType's name (f16, as llama.cpp and ollama).
const DefaultKVType = "f16"

// DefaultRepeatLastN is the penalty window when GenerateOptions.RepeatLastN
// is 0.
const DefaultRepeatLastN = runtime.DefaultRepeatLastN

// Options configure Open. The zero value runs on the best device with the
// model's trained context (at most 4096 tokens), one sequence at a time.
type Options struct {
	// Device is "auto" (or ""), "cpu", "cpu:ref", "vulkan:N", "cuda:N" or
	// a device UUID, as `golem devices` lists them.
	Device string
	// Threads bounds the CPU threads (0: every core).
	Threads int
	// Context is the KV cache length of each sequence in tokens (0: the
	// model's trained context, at most DefaultContext).
	Context int
	// KVType is the KV cache element type: "f16", "f32" or "bf16"; ""
	// means DefaultKVType.
	KVType string
	// Parallel is how many sequences decode together, 1..256 (0: 1). Each
	// has a KV cache of Context tokens, allocated when first used.
	Parallel int
	// Queue is how many requests may wait for a sequence beyond those
	// running (0: DefaultQueue).
	Queue int
	// ChatTemplate names the chat format used when the model has none
	// golem recognises: one of ChatTemplates() ("chatml", "llama3",
	// "mistral", "qwen3", ...).
	ChatTemplate string
	// Progress, when set, is called as the weights load, with bytes done
	// and the total.
	Progress func(done, total int64)
	// Logger receives diagnostics (the device chosen, ...); nil discards
	// them.
	Logger *slog.Logger
	// Profile makes the device time every op of every run (on backends
	// that can: Vulkan, CUDA), for Model.Profile. It costs time per run.
	Profile bool
}

var optionsStruct = optcheck.Struct{Pkg: "golem", Name: "Options"}

// Validate reports the first field out of its range as an error naming
// the field ("golem: Options.Parallel 0: ..."). Open calls it.
func (o Options) Validate() error {
	if _, err := o.kvType(); err != nil {
		return err
	}
	if o.ChatTemplate != "" {
		if _, err := runtime.LookupChatTemplate(o.ChatTemplate); err != nil {
			return optionsStruct.Fail("ChatTemplate", o.ChatTemplate, "one of "+strings.Join(runtime.ChatTemplateNames(), ", "))
		}
	}
	return optcheck.First(
		optcheck.Restruct(backend.Options{Threads: o.Threads}.Validate(), optionsStruct),
		optcheck.Restruct(o.engineOptions(graph.F32).Validate(), optionsStruct),
	)
}

func (o Options) kvType() (graph.DType, error) {
	if o.KVType == "" {
		return graph.DefaultKVType, nil
	}
	// The names as graph.DType.String spells them (no case folding).
	for _, d := range graph.KVTypes() {
		if o.KVType == d.String() {
			return d, nil
		}
	}
	return 0, optionsStruct.Fail("KVType", o.KVType, graph.KVTypeNames())
}

func (o Options) engineOptions(kv graph.DType) runtime.EngineOptions {
	return runtime.EngineOptions{Parallel: o.Parallel, Context: o.Context, KVType: kv, Queue: o.Queue}
}

// Model is a model loaded on a device. It is safe for concurrent use.
type Model struct {
	path   string
	src    runtime.Source
	be     backend.Backend
	rm     *runtime.Model
	engine *runtime.Engine
	tok    *Tokenizer
	chat   *runtime.ChatTemplate // nil: none found (chatErr says why)
	chatEr error

	mu       sync.Mutex
	sessions map[*Session]struct{}
	closed   bool
}

// Open loads the model at path (a GGUF file or a Hugging Face folder) onto
// the device of o.Device. Cancelling ctx stops the load. Errors wrap
// ErrNoDevice or ErrDeviceUnavailable when the device is the problem.
func Open(ctx context.Context, path string, o Options) (*Model, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	kv, _ := o.kvType()
	device := o.Device
	if device == "" {
		device = "auto"
	}
	m := &Model{path: path, sessions: map[*Session]struct{}{}}
	var err error
	if m.src, err = runtime.OpenSource(path); err != nil {
		return nil, err
	}
	if m.be, err = backend.Open(device, backend.Options{Threads: o.Threads, Logger: o.Logger, Profile: o.Profile}); err != nil {
		m.Close()
		return nil, err
	}
	if o.Logger != nil {
		o.Logger.Info("device", "name", m.be.Name(), "device", m.be.Device().Name)
	}
	if m.rm, err = runtime.Load(ctx, m.src, m.be, runtime.LoadOptions{Progress: o.Progress}); err != nil {
		m.Close()
		return nil, err
	}
	if m.engine, err = runtime.NewEngine(m.rm, o.engineOptions(kv)); err != nil {
		m.Close()
		return nil, err
	}
	m.tok = &Tokenizer{t: m.rm.Tokenizer}
	if m.chat, err = runtime.DetectChatTemplate(m.src.ChatTemplate(), o.ChatTemplate); err != nil {
		m.chatEr = fmt.Errorf("%s: %w: %w; Options.ChatTemplate names one to use instead", path, ErrNoChatTemplate, err)
	}
	return m, nil
}

// Close ends every request (their iterators end with ErrClosed) and
// releases the sessions' KV caches, the engine's programs and caches, the
// weights, the device and the file mapping, in that order. It reports
// what could not be released (a device that still had memory in use is a
// bug worth knowing).
func (m *Model) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	sessions := make([]*Session, 0, len(m.sessions))
	for s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	var errs []error
	for _, s := range sessions {
		errs = append(errs, s.Close())
	}
	if m.engine != nil {
		errs = append(errs, m.engine.Close())
	}
	if m.rm != nil {
		errs = append(errs, m.rm.Close())
	}
	if m.be != nil {
		errs = append(errs, m.be.Close())
	}
	if m.src != nil {
		errs = append(errs, m.src.Close())
	}
	return errors.Join(errs...)
}

// Load is how busy a model is at one moment.
type Load struct {
	Active int // requests holding a sequence (running their prompt or generating), at most Parallel
	Queued int // requests waiting for a sequence, at most Options.Queue
}

// Load returns how many requests hold a sequence and how many wait for
// one. A request that ended (finished, cancelled, failed) has left both
// counts by the time its iterator yields its last token.
func (m *Model) Load() Load {
	l := m.engine.Load()
	return Load{Active: l.Running, Queued: l.Waiting}
}

// Info describes a loaded model.
type Info struct {
	Path           string // the file or folder opened
	Arch           string // general.architecture: llama, mistral, qwen2, qwen3
	Params         int64  // parameters
	WeightBytes    int64  // bytes of weights on the device
	VocabSize      int    // tokens in the vocabulary
	TrainedContext int    // the context the model was trained on (0: not given)
	Context        int    // KV cache tokens of each sequence
	Parallel       int    // sequences decoded together
	Device         string // the device: "cpu", "vulkan:0", ...
	DeviceName     string // its name: "AMD EPYC", "NVIDIA H100 ..."
	ChatTemplate   string // the chat format Chat uses ("" when there is none)
}

// Info describes the model and where it runs.
func (m *Model) Info() Info {
	cfg := m.rm.Config
	eo := m.engine.Options()
	info := Info{Path: m.path, Arch: cfg.Arch, Params: cfg.Params(), WeightBytes: m.rm.WeightBytes(), VocabSize: cfg.VocabSize,
		TrainedContext: cfg.ContextLen, Context: eo.Context, Parallel: eo.Parallel,
		Device: m.be.Name(), DeviceName: m.be.Device().Name}
	if m.chat != nil {
		info.ChatTemplate = m.chat.Name
	}
	return info
}

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *Tokenizer { return m.tok }

// Tokenize converts text to token ids (Tokenizer.Tokenize).
func (m *Model) Tokenize(text string, o TokenizeOptions) []int32 { return m.tok.Tokenize(text, o) }

// Detokenize converts token ids to text (Tokenizer.Detokenize).
func (m *Model) Detokenize(ids []int32) string { return m.tok.Detokenize(ids) }

// open checks that m is not closed.
func (m *Model) open() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("model %w", ErrClosed)
	}
	return nil
}

// ChatTemplates lists the chat formats golem knows (Options.ChatTemplate).
func ChatTemplates() []string { return runtime.ChatTemplateNames() }

// ProgramProfile is the device time of each op of the last run of one
// compiled program (Options.Profile).
type ProgramProfile struct {
	Kind   string   // "prefill" (a prompt piece) or "decode" (a decode step)
	Tokens int      // tokens per run: the piece's length, or the step's sequences
	Ops    []OpTime // in graph order
}

// OpTime is one op's share of a run.
type OpTime struct {
	Op       string  // the op ("matmul", "attention", "rms_norm_mul")
	Node     string  // the node's name ("blk.3.attn_q")
	Seconds  float64 // device time
	Launches int     // kernel launches (dispatches) the op made
}

// Profile returns the per-op device times of the last run of each program
// the model has run, prefill pieces then decode steps, when the model was
// opened with Options.Profile on a backend that records them (nil
// otherwise). Read it when no request is running.
func (m *Model) Profile() []ProgramProfile {
	if m.engine == nil {
		return nil
	}
	var out []ProgramProfile
	for _, pt := range m.engine.Timings() {
		p := ProgramProfile{Kind: pt.Kind, Tokens: pt.Tokens}
		for _, t := range pt.Timings {
			p.Ops = append(p.Ops, OpTime{Op: t.Node.Op.String(), Node: t.Node.Name, Seconds: t.Seconds, Launches: t.Launches})
		}
		out = append(out, p)
	}
	return out
}
