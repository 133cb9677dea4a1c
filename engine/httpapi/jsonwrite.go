package httpapi

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/labstack/echo/v4"
)

// jsonSerializer writes c.JSON answers as echo's default serializer does
// (encoding/json with HTML escaped, a trailing newline, indented for
// ?pretty), with the encoder and its buffer reused across answers: the
// default makes a new encoder per answer and writes through it. The body
// is written in one Write.
type jsonSerializer struct{ echo.DefaultJSONSerializer }

type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledJSON is the largest buffer put back in the pool, so one large
// answer (a listing) does not stay allocated.
const maxPooledJSON = 64 << 10

var jsonBuffers = sync.Pool{New: func() any {
	b := &jsonBuffer{}
	b.enc = json.NewEncoder(&b.buf)
	return b
}}

func (s jsonSerializer) Serialize(c echo.Context, v any, indent string) error {
	if indent != "" {
		return s.DefaultJSONSerializer.Serialize(c, v, indent)
	}
	b := jsonBuffers.Get().(*jsonBuffer)
	defer func() {
		if b.buf.Cap() <= maxPooledJSON {
			b.buf.Reset()
			jsonBuffers.Put(b)
		}
	}()
	if err := b.enc.Encode(v); err != nil {
		return err
	}
	_, err := c.Response().Write(b.buf.Bytes())
	return err
}
