package toolkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Definition is what a tool author declares about a tool. Its parameters
// come from the input type given to New.
type Definition struct {
	// Name is the tool's name inside its toolkit ("ListRepos"): letters,
	// digits and underscores.
	Name string
	// Description tells the model what the tool does. Required.
	Description string
	// OutputDescription describes the value the tool returns.
	OutputDescription string
	// RequiresAuth, when set, makes the engine pass the user's token for
	// that provider in Context.Authorization.
	RequiresAuth *OAuth2
	// Secrets are the keys of secrets the engine must pass (Context.Secret).
	Secrets []string
	// Metadata are the keys of metadata items the engine must pass.
	Metadata []string
	// Deprecation, when set, marks the tool deprecated with this message.
	Deprecation string
}

// OAuth2 is a tool's authorization requirement. Set ProviderID to name a
// catalog provider ("github", "google") or ID to name a configured provider
// (auth.providers[].id); Arcade's engine accepts either.
type OAuth2 struct {
	ProviderID string
	ID         string
	Scopes     []string
}

// Authorization is the user's token and the provider's user info, as the
// engine passed them. String and LogValue hide the token.
type Authorization struct {
	Token    string
	UserInfo map[string]any
}

// String hides the token.
func (a Authorization) String() string {
	return fmt.Sprintf("Authorization{Token:%s UserInfo:%d keys}", redact(a.Token), len(a.UserInfo))
}

// LogValue hides the token.
func (a Authorization) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token", redact(a.Token)), slog.Int("user_info_keys", len(a.UserInfo)))
}

// Context is what a tool receives from the engine besides its inputs.
// String and LogValue hide the token and secret values.
type Context struct {
	Authorization Authorization
	UserID        string
	secrets       []ToolSecretItem
	metadata      []ToolMetadataItem
}

// NewContext builds a Context from the wire form; tests of tool functions
// use it to call a tool directly.
func NewContext(c ToolContext) Context {
	tc := Context{UserID: c.UserID, secrets: c.Secrets, metadata: c.Metadata}
	if c.Authorization != nil {
		tc.Authorization = Authorization{Token: c.Authorization.Token, UserInfo: c.Authorization.UserInfo}
	}
	if tc.Authorization.UserInfo == nil {
		tc.Authorization.UserInfo = map[string]any{}
	}
	return tc
}

// Secret returns the secret named key; the lookup ignores case, as Arcade's does.
func (c Context) Secret(key string) (string, bool) {
	for _, s := range c.secrets {
		if strings.EqualFold(s.Key, key) {
			return s.Value, true
		}
	}
	return "", false
}

// Metadata returns the metadata item named key, ignoring case.
func (c Context) Metadata(key string) (string, bool) {
	for _, m := range c.metadata {
		if strings.EqualFold(m.Key, key) {
			return m.Value, true
		}
	}
	return "", false
}

// String hides the token and secret values.
func (c Context) String() string {
	return fmt.Sprintf("Context{UserID:%q Authorization:%v Secrets:%d Metadata:%d}",
		c.UserID, c.Authorization, len(c.secrets), len(c.metadata))
}

// LogValue hides the token and secret values.
func (c Context) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_id", c.UserID),
		slog.Any("authorization", c.Authorization),
		slog.Int("secrets", len(c.secrets)),
		slog.Int("metadata", len(c.metadata)),
	)
}

// Tool is a declared tool: its definition, parameters and function. Build
// one with New and serve it with Worker.Register.
type Tool struct {
	def    Definition
	params []InputParameter
	run    func(ctx context.Context, tc Context, inputs []byte) (any, error)
	err    error // a definition error, reported by Register
}

// Name returns the tool's name inside its toolkit.
func (t *Tool) Name() string { return t.def.Name }

// New declares a tool whose inputs are the fields of In, a struct. Each
// field's `json` tag names the parameter, a `desc` tag describes it, an
// `enum:"a,b"` tag restricts a string to those values and
// `inferrable:"false"` tells the model not to guess it. A field is required
// unless its json tag has omitempty or it is a pointer. A definition error
// (bad name, unsupported field type) is reported by Worker.Register.
func New[In any](def Definition, fn func(ctx context.Context, tc Context, in In) (any, error)) *Tool {
	t := &Tool{def: def}
	var errs []error
	if !validName(def.Name) {
		errs = append(errs, fmt.Errorf("tool name %q: want letters, digits and underscores", def.Name))
	}
	if strings.TrimSpace(def.Description) == "" {
		errs = append(errs, fmt.Errorf("tool %q: description is required", def.Name))
	}
	if a := def.RequiresAuth; a != nil && a.ProviderID == "" && a.ID == "" {
		errs = append(errs, fmt.Errorf("tool %q: requires_auth needs a provider id or an id", def.Name))
	}
	for _, k := range append(slices.Clone(def.Secrets), def.Metadata...) {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("tool %q: empty secret or metadata key", def.Name))
		}
	}
	if fn == nil {
		errs = append(errs, fmt.Errorf("tool %q: nil function", def.Name))
	}
	params, err := parametersOf(reflect.TypeFor[In]())
	if err != nil {
		errs = append(errs, fmt.Errorf("tool %q: input type: %w", def.Name, err))
	}
	t.params = params
	t.err = errors.Join(errs...)
	t.run = func(ctx context.Context, tc Context, raw []byte) (any, error) {
		var in In
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return nil, decodeError(err)
		}
		return fn(ctx, tc, in)
	}
	return t
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// definition renders the wire ToolDefinition for toolkit tk.
func (t *Tool) definition(tk ToolkitDefinition) ToolDefinition {
	qn := tk.Name + "." + t.def.Name
	d := ToolDefinition{
		Name:               t.def.Name,
		QualifiedName:      qn,
		FullyQualifiedName: qn + "@" + tk.Version,
		Description:        t.def.Description,
		Toolkit:            tk,
		Input:              ToolInput{Parameters: slices.Clone(t.params)},
		Output: ToolOutput{
			Description:    t.def.OutputDescription,
			AvailableModes: []string{"value", "error"},
			ValueSchema:    &ValueSchema{ValType: ValJSON},
		},
		DeprecationMessage: t.def.Deprecation,
	}
	if d.Input.Parameters == nil {
		d.Input.Parameters = []InputParameter{}
	}
	if a := t.def.RequiresAuth; a != nil {
		d.Requirements.Authorization = &ToolAuthRequirement{
			ProviderID:   a.ProviderID,
			ProviderType: "oauth2",
			ID:           a.ID,
			OAuth2:       &OAuth2Requirement{Scopes: slices.Clone(a.Scopes)},
		}
	}
	for _, k := range t.def.Secrets {
		d.Requirements.Secrets = append(d.Requirements.Secrets, ToolSecretRequirement{Key: k})
	}
	for _, k := range t.def.Metadata {
		d.Requirements.Metadata = append(d.Requirements.Metadata, ToolMetadataRequirement{Key: k})
	}
	return d
}

// checkContext refuses a call whose context lacks what the tool declared.
func (t *Tool) checkContext(tc Context) error {
	if t.def.RequiresAuth != nil && tc.Authorization.Token == "" {
		return &Error{Kind: KindToolRequirementsNotMet,
			Message: fmt.Sprintf("tool %s requires authorization but the call carried no token", t.def.Name)}
	}
	for _, k := range t.def.Secrets {
		if _, ok := tc.Secret(k); !ok {
			return &Error{Kind: KindToolRequirementsNotMet,
				Message: fmt.Sprintf("tool %s requires secret %q but the call did not carry it", t.def.Name, k)}
		}
	}
	return nil
}

// checkInputs validates the top level of inputs against the parameters:
// unknown names, missing required ones, enum values. Types are checked
// when the inputs are decoded into the input struct.
func (t *Tool) checkInputs(inputs map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(inputs)) {
		if !slices.ContainsFunc(t.params, func(p InputParameter) bool { return p.Name == k }) {
			return badInput("unknown parameter %q", k)
		}
	}
	for _, p := range t.params {
		v, ok := inputs[p.Name]
		if p.Required && (!ok || v == nil) {
			return badInput("missing required parameter %q", p.Name)
		}
		if len(p.ValueSchema.Enum) > 0 && v != nil {
			if err := checkEnum(p.Name, p.ValueSchema.Enum, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkEnum(name string, enum []string, v any) error {
	vals, ok := v.([]any)
	if !ok {
		vals = []any{v}
	}
	for _, x := range vals {
		s, ok := x.(string)
		if !ok || !slices.Contains(enum, s) {
			return badInput("parameter %q must be one of %s", name, strings.Join(enum, ", "))
		}
	}
	return nil
}

func badInput(format string, args ...any) error {
	return &Error{Kind: KindToolRuntimeBadInputValue, Message: fmt.Sprintf(format, args...)}
}

// decodeError names the parameter a decoding error concerns, without
// echoing the value.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		got, _, _ := strings.Cut(te.Value, " ")
		return badInput("parameter %q must be %s, got %s", te.Field, valTypeOf(te.Type), got)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badInput("unknown field %s", msg)
	}
	return badInput("inputs are not valid JSON for this tool")
}

// valTypeOf names a Go type in val_type words for error messages.
func valTypeOf(t reflect.Type) string {
	s, err := schemaOf(t, 0)
	if err != nil {
		return t.String()
	}
	if s.ValType == ValArray && s.InnerValType != "" {
		return "array of " + s.InnerValType
	}
	return s.ValType
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawJSONType = reflect.TypeFor[json.RawMessage]()
)

const maxSchemaDepth = 16

// parametersOf derives the parameters from a struct type.
func parametersOf(t reflect.Type) ([]InputParameter, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct", t)
	}
	return fieldsOf(t, 0)
}

func fieldsOf(t reflect.Type, depth int) ([]InputParameter, error) {
	if depth > maxSchemaDepth {
		return nil, fmt.Errorf("%s nests too deeply (recursive type?)", t)
	}
	var params []InputParameter
	var errs []error
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				inner, err := fieldsOf(ft, depth+1)
				if err != nil {
					errs = append(errs, err)
				}
				params = append(params, inner...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s, err := schemaOf(f.Type, depth+1)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %s: %w", f.Name, err))
			continue
		}
		if e := f.Tag.Get("enum"); e != "" {
			if s.ValType != ValString && !(s.ValType == ValArray && s.InnerValType == ValString) {
				errs = append(errs, fmt.Errorf("field %s: enum on a non-string field", f.Name))
				continue
			}
			s.Enum = strings.Split(e, ",")
		}
		optional := f.Type.Kind() == reflect.Pointer ||
			slices.Contains(strings.Split(opts, ","), "omitempty") ||
			slices.Contains(strings.Split(opts, ","), "omitzero")
		params = append(params, InputParameter{
			Name:        name,
			Required:    !optional,
			Description: f.Tag.Get("desc"),
			ValueSchema: s,
			Inferrable:  f.Tag.Get("inferrable") != "false",
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.Name] {
			return nil, fmt.Errorf("%s: parameter %q declared twice", t, p.Name)
		}
		seen[p.Name] = true
	}
	return params, nil
}

// schemaOf maps a Go type to a value schema.
func schemaOf(t reflect.Type, depth int) (ValueSchema, error) {
	if depth > maxSchemaDepth {
		return ValueSchema{}, fmt.Errorf("%s nests too deeply (recursive type?)", t)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return ValueSchema{ValType: ValString}, nil
	case t == rawJSONType:
		return ValueSchema{ValType: ValJSON}, nil
	}
	switch t.Kind() {
	case reflect.String:
		return ValueSchema{ValType: ValString}, nil
	case reflect.Bool:
		return ValueSchema{ValType: ValBoolean}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return ValueSchema{ValType: ValInteger}, nil
	case reflect.Float32, reflect.Float64:
		return ValueSchema{ValType: ValNumber}, nil
	case reflect.Interface:
		return ValueSchema{ValType: ValJSON}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return ValueSchema{}, fmt.Errorf("map key %s is not a string", t.Key())
		}
		return ValueSchema{ValType: ValJSON}, nil
	case reflect.Struct:
		props, err := propertiesOf(t, depth)
		if err != nil {
			return ValueSchema{}, err
		}
		return ValueSchema{ValType: ValJSON, Properties: props}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return ValueSchema{ValType: ValString}, nil // base64, as encoding/json does
		}
		inner, err := schemaOf(t.Elem(), depth+1)
		if err != nil {
			return ValueSchema{}, err
		}
		if inner.ValType == ValArray {
			return ValueSchema{ValType: ValArray, InnerValType: ValJSON}, nil
		}
		return ValueSchema{ValType: ValArray, InnerValType: inner.ValType, InnerProperties: inner.Properties}, nil
	default:
		return ValueSchema{}, fmt.Errorf("unsupported type %s", t)
	}
}

func propertiesOf(t reflect.Type, depth int) (map[string]ValueSchema, error) {
	fields, err := fieldsOf(t, depth+1)
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, nil
	}
	props := make(map[string]ValueSchema, len(fields))
	for _, f := range fields {
		s := f.ValueSchema
		s.Description = f.Description
		props[f.Name] = s
	}
	return props, nil
}
