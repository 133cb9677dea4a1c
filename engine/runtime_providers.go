package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/clock"
)

// Providers added at run time through the admin API live in the store, each
// as one auth.providers entry of engine.yaml (the operator's own fields,
// before the catalog merge and defaults) sealed as JSON with the aad
// "provider:"+id. Every engine sharing the store keeps a compiled copy of
// them: it loads them at start (LoadRuntimeProviders), reloads them when
// another instance signals a change on the store's Notifier, and reloads
// them itself after each of its own writes. They are layered under the
// engine.yaml providers: an id declared in engine.yaml always means the
// engine.yaml provider, and such ids cannot be written through the admin
// API.

// providersChannel is the Notifier id on which instances announce a
// change to the runtime providers.
const providersChannel = "providers"

// providerResync is how often a watching engine reloads the runtime
// providers even without a signal, as a backstop for a lost notification.
const providerResync = time.Minute

// ProviderSource says where a provider is declared.
type ProviderSource string

// Provider sources.
const (
	// SourceConfig: declared in engine.yaml; read-only through the admin API.
	SourceConfig ProviderSource = "config"
	// SourceAdmin: added at run time through the admin API.
	SourceAdmin ProviderSource = "admin"
)

// ProviderInfo describes one provider for the admin API. It never holds
// the client secret: Provider.ClientSecret is always empty, and the secret
// is described only by HasSecret and SecretHint.
type ProviderInfo struct {
	// Provider is the effective configuration: the catalog template merged
	// in and every default applied.
	Provider config.Provider
	Source   ProviderSource
	// HasSecret reports whether a client secret is configured; SecretHint
	// shows at most its last 4 characters.
	HasSecret  bool
	SecretHint string
	// CreatedAt and UpdatedAt are zero for engine.yaml providers.
	CreatedAt time.Time
	UpdatedAt time.Time
	// Problem is set when a stored provider cannot be used (its record
	// cannot be opened, or it no longer validates); Provider then holds
	// only its id.
	Problem string
}

// InvalidProviderError lists every problem of a provider given to the
// admin API, each with its field path relative to the provider
// (oauth2.token_request.endpoint). Nothing was stored.
type InvalidProviderError struct {
	Fields []config.FieldError
}

// Error lists the problems, one "path: message" a line. No message holds
// a secret value.
func (e *InvalidProviderError) Error() string {
	lines := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		lines[i] = f.Error()
	}
	return "invalid provider:\n" + strings.Join(lines, "\n")
}

// runtimeProviders is the engine's compiled copy of the stored providers.
// The zero value is empty and ready.
type runtimeProviders struct {
	// reload serialises reloads, so that a reload that read the store
	// earlier never installs its set after one that read it later.
	reload sync.Mutex

	mu sync.RWMutex
	// pending is set while the first load has not succeeded because the
	// store did not answer at start; unknown ids then answer
	// store_unavailable rather than unknown_provider.
	pending  bool
	loaded   map[string]loadedProvider
	yaml     []config.Provider
	yamlSeen bool
}

// loadedProvider is one opened and compiled record.
type loadedProvider struct {
	sealed   []byte             // the record's blob, to skip recompiling an unchanged record
	compiled *authflow.Provider // nil when the provider is inactive
	info     ProviderInfo       // the admin API's view of the record, computed with compiled
}

// cachedInfo returns the view of rec computed when rec was last loaded,
// if the loaded copy was made from exactly rec's sealed blob.
func (r *runtimeProviders) cachedInfo(rec store.ProviderRecord) (ProviderInfo, bool) {
	r.mu.RLock()
	lp, ok := r.loaded[rec.ID]
	r.mu.RUnlock()
	if !ok || !bytes.Equal(lp.sealed, rec.Sealed) {
		return ProviderInfo{}, false
	}
	info := lp.info
	info.CreatedAt, info.UpdatedAt = rec.CreatedAt, rec.UpdatedAt
	return info, true
}

// byID returns the runtime provider id: found reports whether it exists;
// an inactive one is a provider_disabled error.
func (r *runtimeProviders) byID(id string) (p *authflow.Provider, found bool, err error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	lp, ok := r.loaded[id]
	if !ok {
		return nil, false, nil
	}
	if lp.compiled == nil {
		return nil, true, disabledError(id)
	}
	return lp.compiled, true, nil
}

// byCatalogID returns the one active runtime provider whose built-in
// provider_id is catalogID, nil when none is.
func (r *runtimeProviders) byCatalogID(catalogID string) (*authflow.Provider, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var match *authflow.Provider
	for _, id := range slices.Sorted(maps.Keys(r.loaded)) {
		p := r.loaded[id].compiled
		if p == nil || p.CatalogID() != catalogID {
			continue
		}
		if match != nil {
			return nil, ambiguousError(catalogID)
		}
		match = p
	}
	return match, nil
}

func disabledError(id string) *RequestError {
	return &RequestError{Name: "provider_disabled", Message: fmt.Sprintf("provider %q is disabled", id)}
}

func ambiguousError(id string) *RequestError {
	return &RequestError{Name: "ambiguous_provider", Message: fmt.Sprintf("provider %q matches several configured providers; use the provider's id", id)}
}

// SetConfigProviders records the engine.yaml provider declarations (after
// Load: merged and defaulted) so that the admin API can show them. Without
// it the admin API shows engine.yaml providers from their compiled form
// only (id, provider_id, status, grant type, PKCE, scope delimiter).
func (e *Engine) SetConfigProviders(ps []config.Provider) {
	e.runtime.mu.Lock()
	e.runtime.yaml = slices.Clone(ps)
	e.runtime.yamlSeen = true
	e.runtime.mu.Unlock()
}

// LoadRuntimeProviders loads every provider stored through the admin API
// and keeps the engine's copy current until ctx ends or the engine closes: it reloads when any
// engine sharing the store announces a change, and every minute as a
// backstop. ctx must live as long as the engine serves. A stored provider
// that cannot be opened or no longer validates is skipped with a warning;
// only a store failure is an error.
func (e *Engine) LoadRuntimeProviders(ctx context.Context) error {
	// Subscribe first: a change announced between the load and the
	// subscription would otherwise be missed.
	signals, cancel := store.SubscribeChan(ctx, e.store, providersChannel)
	retryNow := false
	if err := e.reloadProviders(ctx); err != nil {
		if !errors.Is(err, ErrStoreUnavailable) || ctx.Err() != nil {
			cancel()
			return err
		}
		// A store that does not answer at start is no reason not to
		// start: health says unhealthy, requests answer 503, and the
		// watcher loads the providers once the store answers.
		e.log.Warn("runtime providers not loaded: the store does not answer; retrying in the background", "err", err)
		e.runtime.mu.Lock()
		e.runtime.pending = true
		e.runtime.mu.Unlock()
		retryNow = true
	}
	started := e.spawnBackground(func(closing context.Context) {
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		context.AfterFunc(closing, stop)
		e.watchProviders(wctx, signals, cancel, retryNow)
	})
	if !started {
		cancel()
	}
	return nil
}

// watchProviders reloads on every signal until ctx ends; a failed reload
// is retried after a growing pause.
func (e *Engine) watchProviders(ctx context.Context, signals <-chan struct{}, cancel func(), retryNow bool) {
	defer cancel()
	var retry *clock.Timer
	retryC := func() <-chan time.Time {
		if retry == nil {
			return nil
		}
		return retry.C
	}
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	pause := newBackoff(100*time.Millisecond, 10*time.Second)
	if retryNow {
		retry = e.clock.NewTimer(pause.pause())
	}
	for {
		resync := e.clock.NewTimer(providerResync)
		select {
		case <-ctx.Done():
			resync.Stop()
			return
		case <-signals:
		case <-resync.C:
		case <-retryC():
		}
		resync.Stop()
		if retry != nil {
			retry.Stop()
			retry = nil
		}
		if err := e.reloadProviders(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			d := pause.pause()
			e.log.Warn("reload runtime providers failed; retrying", "err", err, "retry_in", d)
			retry = e.clock.NewTimer(d)
			continue
		}
		pause.reset(100 * time.Millisecond)
	}
}

// reloadProviders reads every stored provider and installs the compiled
// set. Records whose sealed blob did not change keep their compiled form.
func (e *Engine) reloadProviders(ctx context.Context) error {
	e.runtime.reload.Lock()
	defer e.runtime.reload.Unlock()
	recs, err := e.store.ListProviders(ctx)
	if err != nil {
		return storeErr("list runtime providers", err)
	}
	e.runtime.mu.RLock()
	old := e.runtime.loaded
	e.runtime.mu.RUnlock()
	next := make(map[string]loadedProvider, len(recs))
	for _, rec := range recs {
		if prev, ok := old[rec.ID]; ok && bytes.Equal(prev.sealed, rec.Sealed) {
			next[rec.ID] = prev
			continue
		}
		if e.isConfigID(rec.ID) {
			e.log.Warn("runtime provider is shadowed by an engine.yaml provider with the same id", "provider", rec.ID)
			continue
		}
		doc, err := e.openProvider(rec)
		if err != nil {
			e.log.Warn("runtime provider skipped: its record cannot be opened", "provider", rec.ID, "err", err)
			continue
		}
		cp, compiled, err := e.compileProvider(doc)
		if err != nil {
			e.log.Warn("runtime provider skipped: it no longer validates", "provider", rec.ID, "err", err)
			continue
		}
		if !cp.IsEnabled() {
			compiled = nil
		}
		next[rec.ID] = loadedProvider{sealed: rec.Sealed, compiled: compiled, info: infoOf(cp, SourceAdmin, rec)}
	}
	e.runtime.mu.Lock()
	e.runtime.loaded = next
	e.runtime.pending = false
	e.runtime.mu.Unlock()
	return nil
}

// isPending reports whether the runtime providers wait for their first
// load (the store did not answer at start).
func (r *runtimeProviders) isPending() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.pending
}

// announceProviders reloads this engine's copy and tells the other
// instances to reload theirs. The write already happened, so failures are
// logged, not returned: the other instances catch up on their resync.
func (e *Engine) announceProviders(ctx context.Context) {
	// The write is done: finish announcing it even if the caller left.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.reloadProviders(ctx); err != nil {
		e.log.Warn("reload runtime providers after a write failed", "err", err)
	}
	if err := e.store.Notify(ctx, providersChannel); err != nil {
		e.log.Warn("announce runtime provider change failed; other instances catch up within a minute", "err", err)
	}
}

// isConfigID reports whether id is declared in engine.yaml, enabled or not.
func (e *Engine) isConfigID(id string) bool {
	d := e.declared.Load()
	_, ok := d.providers[id]
	return ok || d.disabled[id]
}

// ListProviders returns every provider, engine.yaml ones first, each group
// ordered by id. A stored provider that cannot be used is listed with its
// Problem.
func (e *Engine) ListProviders(ctx context.Context) ([]ProviderInfo, error) {
	out := e.configInfos()
	recs, err := e.store.ListProviders(ctx)
	if err != nil {
		return nil, storeErr("list runtime providers", err)
	}
	for _, rec := range recs {
		if e.isConfigID(rec.ID) {
			continue
		}
		out = append(out, e.recordInfo(rec))
	}
	return out, nil
}

// GetProvider returns one provider; provider_not_found when no provider
// has that id.
func (e *Engine) GetProvider(ctx context.Context, id string) (ProviderInfo, error) {
	for _, info := range e.configInfos() {
		if info.Provider.ID == id {
			return info, nil
		}
	}
	rec, err := e.store.GetProvider(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ProviderInfo{}, notFoundError(id)
	}
	if err != nil {
		return ProviderInfo{}, storeErr("get runtime provider", err)
	}
	return e.recordInfo(rec), nil
}

// CreateProvider validates doc (one auth.providers entry of engine.yaml,
// as JSON values) exactly as engine.yaml is validated, compiles it, stores
// it sealed and makes it usable on every engine sharing the store. Errors:
// provider_read_only (an engine.yaml id), provider_exists,
// *InvalidProviderError.
func (e *Engine) CreateProvider(ctx context.Context, doc map[string]any) (ProviderInfo, error) {
	doc = cleanDoc(doc)
	id := docID(doc)
	if id != "" && e.isConfigID(id) {
		return ProviderInfo{}, readOnlyError(id)
	}
	cp, _, err := e.compileProvider(doc)
	if err != nil {
		return ProviderInfo{}, err
	}
	id = cp.ID
	if e.isConfigID(id) {
		return ProviderInfo{}, readOnlyError(id)
	}
	if err := e.checkEndpoints(ctx, cp); err != nil {
		return ProviderInfo{}, err
	}
	doc["id"] = id
	now := e.now().UTC()
	rec := store.ProviderRecord{ID: id, CreatedAt: now, UpdatedAt: now}
	if rec.Sealed, err = e.sealProvider(id, doc); err != nil {
		return ProviderInfo{}, err
	}
	if err := e.store.CreateProvider(ctx, rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return ProviderInfo{}, &RequestError{Name: "provider_exists", Message: fmt.Sprintf("a provider with id %q already exists; use PATCH to change it", id), Status: http.StatusConflict}
		}
		return ProviderInfo{}, storeErr("create runtime provider", err)
	}
	e.log.Info("runtime provider created", "provider", id)
	e.audit(ctx, "provider.create", id, changedPaths(map[string]any{}, doc, ""), doc["client_secret"] != nil)
	e.announceProviders(ctx)
	return infoOf(cp, SourceAdmin, rec), nil
}

// PatchProvider merges patch into the stored provider id (RFC 7396 JSON
// merge patch over the stored engine.yaml-shaped entry: objects merge,
// other values replace, null removes; an absent client_secret keeps the
// stored one), then validates, compiles and stores the result like
// CreateProvider. A patch that changes where or how the client secret
// and tokens are sent (see secretRoutingChanges) must carry
// client_secret. Errors: provider_read_only, provider_not_found,
// provider_busy (other writes to the provider kept winning the
// compare-and-swap), *InvalidProviderError.
func (e *Engine) PatchProvider(ctx context.Context, id string, patch map[string]any) (ProviderInfo, error) {
	if e.isConfigID(id) {
		return ProviderInfo{}, readOnlyError(id)
	}
	patch = cleanDoc(patch)
	if pid, ok := patch["id"]; ok && pid != id {
		return ProviderInfo{}, &InvalidProviderError{Fields: []config.FieldError{{Path: "id", Message: "cannot be changed; create a provider with the new id and delete this one"}}}
	}
	// Compare-and-swap: a write that lands between the read and the
	// update makes the update fail, and the patch is applied again to
	// what that write left.
	for attempt := 1; ; attempt++ {
		info, before, doc, reentered, err := e.patchOnce(ctx, id, patch)
		if errors.Is(err, store.ErrConflict) && attempt < providerPatchAttempts {
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			return ProviderInfo{}, &RequestError{Name: "provider_busy", Message: fmt.Sprintf("provider %q is being changed by other requests; retry", id), Status: http.StatusConflict}
		}
		if err != nil {
			return ProviderInfo{}, err
		}
		e.log.Info("runtime provider changed", "provider", id)
		e.audit(ctx, "provider.update", id, changedPaths(before, doc, ""), reentered)
		e.announceProviders(ctx)
		return info, nil
	}
}

// providerPatchAttempts bounds how often a patch is re-applied after
// losing a compare-and-swap to another write.
const providerPatchAttempts = 5

// patchOnce reads provider id, applies patch and writes the result if the
// record did not change meanwhile (store.ErrConflict otherwise).
func (e *Engine) patchOnce(ctx context.Context, id string, patch map[string]any) (info ProviderInfo, before, doc map[string]any, reentered bool, err error) {
	rec, err := e.store.GetProvider(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ProviderInfo{}, nil, nil, false, notFoundError(id)
	}
	if err != nil {
		return ProviderInfo{}, nil, nil, false, storeErr("get runtime provider", err)
	}
	doc, err = e.openProvider(rec)
	if err != nil {
		return ProviderInfo{}, nil, nil, false, fmt.Errorf("patch runtime provider %q: %w", id, err)
	}
	before = doc
	doc = mergePatch(doc, patch).(map[string]any)
	doc["id"] = id
	cp, _, err := e.compileProvider(doc)
	if err != nil {
		return ProviderInfo{}, nil, nil, false, err
	}
	if err := e.checkEndpoints(ctx, cp); err != nil {
		return ProviderInfo{}, nil, nil, false, err
	}
	_, reentered = patch["client_secret"]
	if err := checkSecretReentry(before, cp, reentered); err != nil {
		return ProviderInfo{}, nil, nil, false, err
	}
	old := rec.Sealed
	rec.UpdatedAt = e.now().UTC()
	if rec.Sealed, err = e.sealProvider(id, doc); err != nil {
		return ProviderInfo{}, nil, nil, false, err
	}
	if err := e.store.UpdateProvider(ctx, rec, old); err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			return ProviderInfo{}, nil, nil, false, notFoundError(id)
		case errors.Is(err, store.ErrConflict):
			return ProviderInfo{}, nil, nil, false, err
		}
		return ProviderInfo{}, nil, nil, false, storeErr("update runtime provider", err)
	}
	return infoOf(cp, SourceAdmin, rec), before, doc, reentered, nil
}

// DeleteProvider removes the stored provider id from every engine sharing
// the store. Connections made through it stay stored but cannot be used
// until a provider with that id exists again. Errors: provider_read_only,
// provider_not_found.
func (e *Engine) DeleteProvider(ctx context.Context, id string) error {
	if e.isConfigID(id) {
		return readOnlyError(id)
	}
	if _, err := e.store.GetProvider(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFoundError(id)
		}
		return storeErr("read runtime provider", err)
	}
	// The provider's connections go first, while the provider can still
	// revoke their tokens; a crash part way leaves the provider in place
	// and a second delete finishes the job. A callback that lands between
	// the sweep and the provider's removal is caught by the second sweep.
	n, err := e.deleteConnectionsOf(ctx, id)
	if err != nil {
		return err
	}
	if err := e.store.DeleteProvider(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFoundError(id)
		}
		return storeErr("delete runtime provider", err)
	}
	late, err := e.deleteConnectionsOf(ctx, id)
	if err != nil {
		return err
	}
	e.log.Info("runtime provider deleted", "provider", id, "connections_deleted", n+late)
	e.audit(ctx, "provider.delete", id, nil, false)
	e.announceProviders(ctx)
	return nil
}

func readOnlyError(id string) *RequestError {
	return &RequestError{Name: "provider_read_only", Status: http.StatusConflict,
		Message: fmt.Sprintf("provider %q is defined in engine.yaml and is read-only through the admin API; change it in engine.yaml", id)}
}

func notFoundError(id string) *RequestError {
	return &RequestError{Name: "provider_not_found", Status: http.StatusNotFound,
		Message: fmt.Sprintf("no provider with id %q", id)}
}

// storedProvider is the sealed plaintext of a ProviderRecord.
type storedProvider struct {
	Version  int            `json:"v"`
	Provider map[string]any `json:"provider"`
}

func (e *Engine) sealProvider(id string, doc map[string]any) ([]byte, error) {
	sealed, err := e.sealJSON(storedProvider{Version: 1, Provider: doc}, providerAAD(id))
	if err != nil {
		return nil, fmt.Errorf("runtime provider %q: %w", id, err)
	}
	return sealed, nil
}

func (e *Engine) openProvider(rec store.ProviderRecord) (map[string]any, error) {
	var sp storedProvider
	if err := e.openJSON(rec.Sealed, providerAAD(rec.ID), &sp); err != nil {
		return nil, fmt.Errorf("runtime provider %q: %w", rec.ID, err)
	}
	if sp.Provider == nil {
		return nil, fmt.Errorf("decode runtime provider %q: stored record holds no provider", rec.ID)
	}
	return sp.Provider, nil
}

// recordInfo describes a stored record, or its problem. A record this
// engine has loaded (reloadProviders) is described from that load when
// its sealed blob is unchanged, without opening and compiling it again;
// the store is still read on every call, so a write by any instance is
// seen at once.
func (e *Engine) recordInfo(rec store.ProviderRecord) ProviderInfo {
	if info, ok := e.runtime.cachedInfo(rec); ok {
		return info
	}
	broken := ProviderInfo{Provider: config.Provider{ID: rec.ID}, Source: SourceAdmin, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
	doc, err := e.openProvider(rec)
	var mk *KeyMissingError
	switch {
	case errors.As(err, &mk):
		broken.Problem = fmt.Sprintf("the stored provider is sealed with root key %q, which is not configured: add it back to security.root_keys, or create the provider again", mk.KeyID)
		return broken
	case err != nil:
		broken.Problem = "the stored provider cannot be opened (was the root key that sealed it removed?)"
		return broken
	}
	cp, _, err := e.compileProvider(doc)
	if err != nil {
		broken.Problem = "the stored provider no longer validates: " + err.Error()
		return broken
	}
	return infoOf(cp, SourceAdmin, rec)
}

// configInfos describes the engine.yaml providers, ordered by id.
func (e *Engine) configInfos() []ProviderInfo {
	e.runtime.mu.RLock()
	yaml, seen := e.runtime.yaml, e.runtime.yamlSeen
	e.runtime.mu.RUnlock()
	var out []ProviderInfo
	if seen {
		for _, p := range yaml {
			out = append(out, infoOf(p, SourceConfig, store.ProviderRecord{}))
		}
	} else {
		d := e.declared.Load()
		for id, p := range d.providers {
			out = append(out, ProviderInfo{Source: SourceConfig, Provider: config.Provider{
				ID: id, ProviderID: p.CatalogID(), Enabled: ptr(true), Type: config.ProviderTypeOAuth2,
				OAuth2: config.OAuth2{GrantType: p.GrantType(), ScopeDelimiter: p.ScopeDelimiter(), PKCE: config.PKCE{Enabled: p.PKCE()}},
			}})
		}
		for id := range d.disabled {
			if _, ok := d.providers[id]; !ok {
				out = append(out, ProviderInfo{Source: SourceConfig, Provider: config.Provider{ID: id, Enabled: ptr(false), Type: config.ProviderTypeOAuth2}})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Provider.ID < out[j].Provider.ID })
	return out
}

func ptr[T any](v T) *T { return &v }

// infoOf describes p without its secret.
func infoOf(p config.Provider, src ProviderSource, rec store.ProviderRecord) ProviderInfo {
	info := ProviderInfo{Source: src, HasSecret: p.ClientSecret != "", SecretHint: SecretHint(p.ClientSecret), CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
	p.ClientSecret = ""
	info.Provider = p
	return info
}

// SecretHint shows the last 4 characters of a secret of at least 12
// characters, masked ("****wxyz"); a shorter secret shows none ("****"),
// since 4 of its characters would give too much of it away. "" when there
// is no secret.
func SecretHint(secret string) string {
	if secret == "" {
		return ""
	}
	r := []rune(secret)
	if len(r) < 12 {
		return "****"
	}
	return "****" + string(r[len(r)-4:])
}

// compileProvider turns a stored or submitted engine.yaml-shaped entry
// into the effective config.Provider and, when it is enabled, its
// compiled form: config.ParseProvider treats it as Load treats an
// engine.yaml entry (catalog merge by provider_id, the refresh_request
// alias, strict decoding, defaults, validation; values are literal, no
// $<env:...> references), then authflow compiles it with the engine's
// redirect URI. Every problem is returned at once as
// *InvalidProviderError, with paths relative to the entry. Warnings are
// not reported.
func (e *Engine) compileProvider(doc map[string]any) (config.Provider, *authflow.Provider, error) {
	var fields []config.FieldError
	p, _, err := config.ParseProvider(doc, "")
	var cerr *config.Errors
	if errors.As(err, &cerr) {
		fields = append(fields, cerr.Fields...)
	} else if err != nil {
		return config.Provider{}, nil, fmt.Errorf("parse provider: %w", err)
	}
	// Discovery and MCP registration run when the engine starts
	// (authflow/discovery), not when the admin API writes a provider.
	if p.Type == config.ProviderTypeMCP {
		fields = append(fields, config.FieldError{Path: "type", Message: "mcp is supported only for providers in engine.yaml"})
	} else if p.NeedsDiscovery() {
		fields = append(fields, config.FieldError{Path: "oauth2.issuer", Message: "is supported only for providers in engine.yaml; give the endpoints here"})
	}
	var compiled *authflow.Provider
	if p.IsEnabled() && len(fields) == 0 {
		c, err := authflow.Compile(p, e.RedirectURI())
		if ce, ok := errors.AsType[*authflow.CompileError](err); ok {
			for _, f := range ce.Fields {
				fields = append(fields, config.FieldError{Path: relativePath(f.Path, p.ID), Message: f.Message})
			}
		} else if err != nil {
			return config.Provider{}, nil, fmt.Errorf("compile provider: %w", err)
		} else {
			compiled = c.WithClock(e.now)
		}
	}
	if len(fields) > 0 {
		return config.Provider{}, nil, &InvalidProviderError{Fields: (&config.Errors{Fields: fields}).Sorted()}
	}
	return p, compiled, nil
}

// relativePath strips the auth.providers[<id>] prefix authflow puts on a
// provider's paths.
func relativePath(path, id string) string {
	if rest, ok := strings.CutPrefix(path, "auth.providers["+id+"]"); ok {
		return strings.TrimPrefix(rest, ".")
	}
	return path
}

func docID(doc map[string]any) string {
	if id, ok := doc["id"].(string); ok && id != "" {
		return id
	}
	id, _ := doc["provider_id"].(string)
	return id
}

// cleanDoc returns a copy of doc's top level (never nil), which is all
// CreateProvider and PatchProvider write to; nested values are shared and
// only read.
func cleanDoc(doc map[string]any) map[string]any {
	if doc == nil {
		return map[string]any{}
	}
	return maps.Clone(doc)
}

// mergePatch applies an RFC 7396 JSON merge patch. It modifies neither
// input: every object on a patched path is copied, and the result shares
// the rest with target and patch.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	} else {
		tm = maps.Clone(tm)
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

// deleteConnectionsOf deletes every connection of provider id (users' and
// service tokens), each with a connection.deleted event, and returns how
// many it deleted.
func (e *Engine) deleteConnectionsOf(ctx context.Context, id string) (int, error) {
	const page = 100
	deleted := 0
	for {
		list, _, err := e.store.ListConnections(ctx, store.ConnectionFilter{ProviderID: id}, 0, page)
		if err != nil {
			return deleted, storeErr("list the provider's connections", err)
		}
		if len(list) == 0 {
			return deleted, nil
		}
		for _, c := range list {
			err := e.removeConnection(ctx, c.ID, events.ConnectionDeleted, "deleted", "its provider was deleted")
			if err != nil && !errors.Is(err, ErrConnectionNotFound) {
				return deleted, err
			}
			if err == nil {
				deleted++
			}
		}
	}
}
