package discovery_test

import (
	"encoding/json"
	"io"
	"net/http"
)

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func encodeJSON(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
