// Package toolkit is the Go SDK for writing tools and serving them as a
// worker that speaks Arcade's engine-to-worker protocol, so that Go workers
// and Arcade's Python workers are interchangeable behind the engine.
//
// It owns the protocol's wire types (ToolDefinition, ToolCallRequest,
// ToolCallResponse and their parts, ErrorKind); the engine's worker client
// imports them from here. A tool author declares a tool with New, giving a
// Definition, an input struct and a plain function that reads the user's
// token from Context.Authorization.Token, and serves tools with a Worker.
//
// The Worker authenticates every /worker/tools* request with an HS256 JWT
// signed with the shared worker secret (aud "worker", ver "1", exp
// required), validates inputs against the input struct before a tool runs,
// and turns tool errors and panics into output.error.
//
// It knows nothing of the engine, its stores or its providers.
package toolkit
