package bolt

import (
	"fmt"
)

// decode decodes the record stored under key with dec (one of the
// engine/store/codec decoders). value belongs to bbolt and is only valid
// inside the transaction; the decoders copy what they keep, so the result
// outlives it. The error names the record kind, its key and what is wrong,
// never its content.
func decode[T any](dec func([]byte) (T, error), key, value []byte) (T, error) {
	r, err := dec(value)
	if err != nil {
		return r, fmt.Errorf("bolt: record %q: %w", key, err)
	}
	return r, nil
}
