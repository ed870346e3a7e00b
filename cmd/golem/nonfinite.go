package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// locateBytes bounds the memory of the run that locates a non-finite
// activation (every activation of every token fed is kept at once).
const locateBytes = 2 << 30

// generationError returns err, which ended generation in s. When the logits
// held NaN or ±Inf it adds the first activation that does and the weights
// behind it (parity.FirstNonFinite): the tokens fed up to the failing
// position run again with every activation exposed. The session and the
// model's weights are freed first, so that the second run has their memory.
func generationError(ctx context.Context, l *loaded, s *runtime.Session, err error) error {
	var nf *runtime.NonFiniteError
	if !errors.As(err, &nf) || nf.Pos < 0 {
		return err
	}
	tokens := s.Tokens()
	tokens = tokens[:min(nf.Pos+1, len(tokens))]
	s.Close()
	if l.model != nil {
		l.model.Close()
		l.model = nil
	}
	node, lerr := parity.FirstNonFinite(ctx, l.src, l.be, tokens, locateBytes)
	switch {
	case lerr != nil:
		return fmt.Errorf("%w; the first non-finite activation could not be located: %v", err, lerr)
	case node == nil:
		return fmt.Errorf("%w; a second run of the %d tokens gave finite activations everywhere", err, len(tokens))
	}
	return fmt.Errorf("%w; first non-finite activation: %s", err, node.Describe())
}
