package tokenizer

// minHeap is a binary min-heap of T ordered by T's before method. It is the
// merge queue of both BPE flavours (lowest rank or highest score first,
// leftmost first on ties) and allocates nothing once grown.
type minHeap[T any, P interface {
	*T
	before(*T) bool
}] []T

func (q *minHeap[T, P]) push(x T) {
	h := append(*q, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !P(&h[i]).before(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	*q = h
}

func (q *minHeap[T, P]) pop() T {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && P(&h[r]).before(&h[l]) {
			m = r
		}
		if !P(&h[m]).before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
