package redis

import "fmt"

// decode decodes a record read from Redis with dec (one of the
// engine/store/codec decoders, shared with the embedded store). The error
// names the record kind and what is wrong, never the record's content.
func decode[T any](dec func([]byte) (T, error), raw []byte) (T, error) {
	r, err := dec(raw)
	if err != nil {
		return r, fmt.Errorf("redis store: %w", err)
	}
	return r, nil
}
