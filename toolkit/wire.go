package toolkit

import (
	"fmt"
	"log/slog"
	"strings"
)

// This file holds the worker-protocol wire types. Field names follow the
// Pydantic models of Arcade's Python worker library (arcade_core/schema.py),
// which the real workers validate against. Optional fields that Pydantic
// renders as null are omitted when empty; Pydantic reads an absent field and
// a null one alike.

// ToolkitDefinition names the toolkit a tool belongs to.
type ToolkitDefinition struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version,omitempty"`
}

// ToolDefinition describes one tool, as a worker lists it on GET /worker/tools.
type ToolDefinition struct {
	Name               string            `json:"name"`
	FullyQualifiedName string            `json:"fully_qualified_name"` // Toolkit.Name@version
	QualifiedName      string            `json:"qualified_name"`       // Toolkit.Name
	Description        string            `json:"description"`
	Toolkit            ToolkitDefinition `json:"toolkit"`
	Input              ToolInput         `json:"input"`
	Output             ToolOutput        `json:"output"`
	Requirements       ToolRequirements  `json:"requirements"`
	DeprecationMessage string            `json:"deprecation_message,omitempty"`
}

// ToolInput lists a tool's parameters.
type ToolInput struct {
	Parameters []InputParameter `json:"parameters"`
}

// InputParameter is one named input of a tool.
type InputParameter struct {
	Name        string      `json:"name"`
	Required    bool        `json:"required"`
	Description string      `json:"description,omitempty"`
	ValueSchema ValueSchema `json:"value_schema"`
	// Inferrable tells a model it may infer the value from the conversation.
	Inferrable bool `json:"inferrable"`
}

// Value types a ValueSchema can carry.
const (
	ValString  = "string"
	ValInteger = "integer"
	ValNumber  = "number"
	ValBoolean = "boolean"
	ValJSON    = "json"
	ValArray   = "array"
)

// ValueSchema describes the type of a parameter or of a tool's output.
type ValueSchema struct {
	ValType         string                 `json:"val_type"`
	InnerValType    string                 `json:"inner_val_type,omitempty"`
	Enum            []string               `json:"enum,omitempty"`
	Properties      map[string]ValueSchema `json:"properties,omitempty"`
	InnerProperties map[string]ValueSchema `json:"inner_properties,omitempty"`
	Description     string                 `json:"description,omitempty"`
}

// ToolOutput describes what a tool returns.
type ToolOutput struct {
	Description    string       `json:"description,omitempty"`
	AvailableModes []string     `json:"available_modes"`
	ValueSchema    *ValueSchema `json:"value_schema,omitempty"`
}

// ToolRequirements is what the engine must supply before the tool can run.
type ToolRequirements struct {
	Authorization *ToolAuthRequirement      `json:"authorization,omitempty"`
	Secrets       []ToolSecretRequirement   `json:"secrets,omitempty"`
	Metadata      []ToolMetadataRequirement `json:"metadata,omitempty"`
}

// ToolAuthRequirement names the OAuth provider a tool needs a user token from.
// ProviderID names a catalog provider ("github"); ID names a configured
// provider instance (auth.providers[].id). Either may be empty.
type ToolAuthRequirement struct {
	ProviderID   string             `json:"provider_id,omitempty"`
	ProviderType string             `json:"provider_type"`
	ID           string             `json:"id,omitempty"`
	OAuth2       *OAuth2Requirement `json:"oauth2,omitempty"`
	// Account labels which of the user's accounts at the provider the
	// tool uses (an authengine addition); empty is the default account.
	// A caller's account in the authorize or execute request wins.
	Account string `json:"account,omitempty"`
}

// OAuth2Requirement lists the scopes a tool needs.
type OAuth2Requirement struct {
	Scopes []string `json:"scopes,omitempty"`
}

// ToolSecretRequirement names a secret the engine must pass in the context.
type ToolSecretRequirement struct {
	Key string `json:"key"`
}

// ToolMetadataRequirement names a metadata item the engine must pass.
type ToolMetadataRequirement struct {
	Key string `json:"key"`
}

// ToolReference names the tool a ToolCallRequest invokes.
type ToolReference struct {
	Name    string `json:"name"`
	Toolkit string `json:"toolkit"`
	Version string `json:"version,omitempty"`
}

// ToolCallRequest is what the engine POSTs to /worker/tools/invoke.
type ToolCallRequest struct {
	RunID       string         `json:"run_id"`
	ExecutionID string         `json:"execution_id"`
	CreatedAt   string         `json:"created_at"`
	Tool        ToolReference  `json:"tool"`
	Inputs      map[string]any `json:"inputs"`
	Context     ToolContext    `json:"context"`
}

// LogValue logs the request's identity and a redacted context; the
// inputs are left out because they may carry user data.
func (r ToolCallRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("run_id", r.RunID),
		slog.String("execution_id", r.ExecutionID),
		slog.String("tool", r.Tool.Toolkit+"."+r.Tool.Name),
		slog.String("version", r.Tool.Version),
		slog.Int("inputs", len(r.Inputs)),
		slog.Any("context", r.Context),
	)
}

// ToolContext carries what the engine resolved for the call: the user's
// token, secrets and metadata. Its String and LogValue redact secrets.
type ToolContext struct {
	Authorization *ToolAuthorizationContext `json:"authorization"`
	Secrets       []ToolSecretItem          `json:"secrets"`
	Metadata      []ToolMetadataItem        `json:"metadata"`
	UserID        string                    `json:"user_id"`
}

// String describes the context without any secret value.
func (c ToolContext) String() string {
	return fmt.Sprintf("ToolContext{UserID:%q Authorization:%v Secrets:[%s] Metadata:%d}",
		c.UserID, c.Authorization, strings.Join(c.secretKeys(), " "), len(c.Metadata))
}

// LogValue logs the context without any secret value.
func (c ToolContext) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_id", c.UserID),
		slog.Bool("has_token", c.Authorization != nil && c.Authorization.Token != ""),
		slog.Any("secret_keys", c.secretKeys()),
		slog.Int("metadata", len(c.Metadata)),
	)
}

// secretKeys lists the secrets' keys, never their values.
func (c ToolContext) secretKeys() []string {
	keys := make([]string, 0, len(c.Secrets))
	for _, s := range c.Secrets {
		keys = append(keys, s.Key)
	}
	return keys
}

// ToolAuthorizationContext is the user's token and the provider's user info.
type ToolAuthorizationContext struct {
	Token    string         `json:"token"`
	UserInfo map[string]any `json:"user_info"`
}

// String hides the token.
func (a ToolAuthorizationContext) String() string {
	return fmt.Sprintf("ToolAuthorizationContext{Token:%s UserInfo:%d keys}", redact(a.Token), len(a.UserInfo))
}

// LogValue hides the token.
func (a ToolAuthorizationContext) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token", redact(a.Token)), slog.Int("user_info_keys", len(a.UserInfo)))
}

// ToolSecretItem is one secret passed to a tool.
type ToolSecretItem struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// String hides the value.
func (s ToolSecretItem) String() string {
	return fmt.Sprintf("ToolSecretItem{Key:%q Value:%s}", s.Key, redact(s.Value))
}

// LogValue hides the value.
func (s ToolSecretItem) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key", s.Key), slog.String("value", redact(s.Value)))
}

// ToolMetadataItem is one metadata item passed to a tool (client_id, coordinator_url).
type ToolMetadataItem struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ToolCallResponse is what a worker answers to an invoke.
type ToolCallResponse struct {
	ExecutionID string          `json:"execution_id"`
	FinishedAt  string          `json:"finished_at"`
	Duration    float64         `json:"duration"` // milliseconds
	Success     bool            `json:"success"`
	Output      *ToolCallOutput `json:"output,omitempty"`
}

// ToolCallOutput holds one of: a value, an error, or an authorization request.
type ToolCallOutput struct {
	Value                 any                            `json:"value,omitempty"`
	Logs                  []ToolCallLog                  `json:"logs,omitempty"`
	Error                 *ToolCallError                 `json:"error,omitempty"`
	RequiresAuthorization *ToolCallRequiresAuthorization `json:"requires_authorization,omitempty"`
}

// ToolCallLog is a log line a tool call produced.
type ToolCallLog struct {
	Message string `json:"message"`
	Level   string `json:"level"`             // debug | info | warning | error
	Subtype string `json:"subtype,omitempty"` // "deprecation" or empty
}

// ToolCallError is a failed tool call, as the model and the app see it.
type ToolCallError struct {
	Message                 string         `json:"message"`
	Kind                    ErrorKind      `json:"kind"`
	DeveloperMessage        string         `json:"developer_message,omitempty"`
	CanRetry                bool           `json:"can_retry"`
	AdditionalPromptContent string         `json:"additional_prompt_content,omitempty"`
	RetryAfterMS            *int64         `json:"retry_after_ms,omitempty"`
	Stacktrace              string         `json:"stacktrace,omitempty"`
	StatusCode              *int           `json:"status_code,omitempty"`
	Extra                   map[string]any `json:"extra,omitempty"`
}

// ToolCallRequiresAuthorization asks the caller to authorize before retrying.
type ToolCallRequiresAuthorization struct {
	AuthorizationURL string   `json:"authorization_url,omitempty"`
	AuthorizationID  string   `json:"authorization_id,omitempty"`
	Scopes           []string `json:"scopes,omitempty"`
	Status           string   `json:"status,omitempty"`
}

// ErrorKind classifies a tool call failure (Arcade's ErrorKind enum).
type ErrorKind string

// The error kinds Arcade defines.
const (
	KindToolkitLoadFailed                  ErrorKind = "TOOLKIT_LOAD_FAILED"
	KindToolDefinitionBadDefinition        ErrorKind = "TOOL_DEFINITION_BAD_DEFINITION"
	KindToolDefinitionBadInputSchema       ErrorKind = "TOOL_DEFINITION_BAD_INPUT_SCHEMA"
	KindToolDefinitionBadOutputSchema      ErrorKind = "TOOL_DEFINITION_BAD_OUTPUT_SCHEMA"
	KindToolRequirementsNotMet             ErrorKind = "TOOL_REQUIREMENTS_NOT_MET"
	KindToolRuntimeBadInputValue           ErrorKind = "TOOL_RUNTIME_BAD_INPUT_VALUE"
	KindToolRuntimeBadOutputValue          ErrorKind = "TOOL_RUNTIME_BAD_OUTPUT_VALUE"
	KindToolRuntimeRetry                   ErrorKind = "TOOL_RUNTIME_RETRY"
	KindToolRuntimeContextRequired         ErrorKind = "TOOL_RUNTIME_CONTEXT_REQUIRED"
	KindToolRuntimeFatal                   ErrorKind = "TOOL_RUNTIME_FATAL"
	KindContextCheckFailed                 ErrorKind = "CONTEXT_CHECK_FAILED"
	KindContextDenied                      ErrorKind = "CONTEXT_DENIED"
	KindUpstreamRuntimeBadRequest          ErrorKind = "UPSTREAM_RUNTIME_BAD_REQUEST"
	KindUpstreamRuntimeAuthError           ErrorKind = "UPSTREAM_RUNTIME_AUTH_ERROR"
	KindUpstreamRuntimeNotFound            ErrorKind = "UPSTREAM_RUNTIME_NOT_FOUND"
	KindUpstreamRuntimeValidationError     ErrorKind = "UPSTREAM_RUNTIME_VALIDATION_ERROR"
	KindUpstreamRuntimeRateLimit           ErrorKind = "UPSTREAM_RUNTIME_RATE_LIMIT"
	KindUpstreamRuntimeServerError         ErrorKind = "UPSTREAM_RUNTIME_SERVER_ERROR"
	KindUpstreamRuntimeUnmapped            ErrorKind = "UPSTREAM_RUNTIME_UNMAPPED"
	KindNetworkTransportRuntimeTimeout     ErrorKind = "NETWORK_TRANSPORT_RUNTIME_TIMEOUT"
	KindNetworkTransportRuntimeUnreachable ErrorKind = "NETWORK_TRANSPORT_RUNTIME_UNREACHABLE"
	KindNetworkTransportRuntimeUnmapped    ErrorKind = "NETWORK_TRANSPORT_RUNTIME_UNMAPPED"
	KindUnknown                            ErrorKind = "UNKNOWN"
)

// redact shows only whether a secret is set.
func redact(s string) string {
	if s == "" {
		return `""`
	}
	return "[REDACTED]"
}
