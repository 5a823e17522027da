package streamcore

// HashKey is a point of the 128-bit hash-key space as an unsigned big-endian integer.
type HashKey struct {
	Hi, Lo uint64
}
