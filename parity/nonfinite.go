package parity

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/runtime"
)

// NonFiniteNode is the first activation of a model's run, in graph order,
// that holds a NaN or ±Inf: where a broken weight, hyper-parameter or
// kernel first shows.
type NonFiniteNode struct {
	// Index is the node's place in graph (execution) order.
	Index int `json:"index"`
	// Name, Op and Layer name the node as NodeMetrics does.
	Name  string `json:"name"`
	Op    string `json:"op"`
	Layer string `json:"layer"`
	// Shape is the activation's shape.
	Shape []int `json:"shape"`
	// Count is how many of its values are NaN or ±Inf.
	Count int `json:"count"`
	// Element is the row-major index of the first, and Value its value.
	Element int   `json:"element"`
	Value   Float `json:"value"`
	// Weights are the weights the node reads directly that hold NaN or
	// ±Inf themselves.
	Weights []NonFiniteWeight `json:"weights,omitempty"`
}

// NonFiniteWeight is a weight tensor holding NaN or ±Inf values.
type NonFiniteWeight struct {
	Name  string `json:"name"`
	Count int    `json:"count"` // how many values are NaN or ±Inf
}

// Describe names the node and what is wrong with it:
//
//	output matmul "logits" (1 of 2560 values non-finite, first +Inf); weight "output.weight" holds 1 NaN/Inf value
func (n *NonFiniteNode) Describe() string {
	total := graph.Shape(n.Shape).NumElements()
	s := fmt.Sprintf("%s %s %q (%d of %d values non-finite, first %v)", n.Layer, n.Op, n.Name, n.Count, total, n.Value)
	for _, w := range n.Weights {
		plural := "s"
		if w.Count == 1 {
			plural = ""
		}
		s += fmt.Sprintf("; weight %q holds %d NaN/Inf value%s", w.Name, w.Count, plural)
	}
	return s
}

// FirstNonFinite runs tokens through the graph of src on be, from an empty
// KV cache and with every intermediate activation exposed (WithAllOutputs),
// and returns the first activation in graph order that holds a NaN or
// ±Inf, with the weights it reads that hold some themselves. It returns nil
// when every activation is finite.
//
// Every activation of the run is held at once: maxBytes bounds their total
// size (0: no bound), and a larger run is refused with an error that says
// how much it would need.
func FirstNonFinite(ctx context.Context, src runtime.Source, be backend.Backend, tokens []int32, maxBytes int64) (*NonFiniteNode, error) {
	n := len(tokens)
	if n == 0 {
		return nil, errors.New("parity: non-finite: no tokens")
	}
	built, err := llama.Build(src.Config(), src.Weights(), llama.BuildOptions{
		Tokens: n, Context: n, KVType: graph.F32, AllLogits: true,
	})
	if err != nil {
		return nil, fmt.Errorf("parity: non-finite: %w", err)
	}
	g, err := WithAllOutputs(built.Graph)
	if err != nil {
		return nil, err
	}
	if maxBytes > 0 {
		var need int64
		for _, o := range g.Outputs {
			need += o.Bytes()
		}
		if need > maxBytes {
			return nil, fmt.Errorf("parity: non-finite: the activations of %d tokens take %.1f MiB, more than the %.1f MiB allowed",
				n, float64(need)/(1<<20), float64(maxBytes)/(1<<20))
		}
	}
	r, err := runExposed(ctx, src, be, built, g, tokens)
	if err != nil {
		return nil, err
	}
	defer r.close()
	layers := nodeLayers(g)
	for i, nd := range g.Nodes {
		k, ok := r.slot[nd]
		if !ok {
			continue
		}
		v, err := r.read(k)
		if err != nil {
			return nil, err
		}
		count, first := nonFinite(v)
		if count == 0 {
			continue
		}
		bad := &NonFiniteNode{
			Index: i, Name: nd.Name, Op: nd.Op.String(), Layer: layers[i],
			Shape: append([]int(nil), nd.Shape...), Count: count, Element: first, Value: Float(v[first]),
		}
		for _, in := range nd.Inputs {
			for in.Op.IsAlias() {
				in = in.Inputs[0]
			}
			if in.Op != graph.OpWeight {
				continue
			}
			if c, err := weightNonFinite(src, in); err == nil && c > 0 {
				bad.Weights = append(bad.Weights, NonFiniteWeight{Name: in.Name, Count: c})
			}
		}
		return bad, nil
	}
	return nil, nil
}

// nonFinite counts the NaN and ±Inf values of v and returns the index of
// the first (-1 when none).
func nonFinite(v []float32) (count, first int) {
	first = -1
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			if first < 0 {
				first = i
			}
			count++
		}
	}
	return count, first
}

// weightNonFinite counts the NaN and ±Inf values of weight w of src.
func weightNonFinite(src runtime.Source, w *graph.Node) (int, error) {
	data, err := src.TensorData(w.Name)
	if err != nil {
		return 0, err
	}
	v, err := decode(w.DType, data)
	if err != nil {
		return 0, err
	}
	c, _ := nonFinite(v)
	return c, nil
}
