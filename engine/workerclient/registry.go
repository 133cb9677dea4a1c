package workerclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/authengine/authengine/toolkit"
)

// ErrToolNotFound means no worker serves the named tool (at that version).
var ErrToolNotFound = errors.New("tool not found")

// ErrWorkerUnauthorized means a tool was not found while a worker refuses
// the engine's credentials (HTTP 401 on its catalog): the tool may well be
// that worker's, so "not found" would point the operator the wrong way.
var ErrWorkerUnauthorized = errors.New("worker refused the engine's credentials")

// DefaultRefreshInterval is how often Run refreshes the catalog.
const DefaultRefreshInterval = 5 * time.Minute

// Tool is a resolved tool: its definition and the worker that serves it.
type Tool struct {
	Worker *Client
	Def    toolkit.ToolDefinition
}

// RegistryOptions configures a Registry.
type RegistryOptions struct {
	// Workers in config order; on a name clash the earlier worker wins.
	Workers []*Client
	// Refresh is Run's interval; 0 means DefaultRefreshInterval.
	Refresh time.Duration
	Logger  *slog.Logger // nil discards
	// MinRefresh is the least time between two refreshes Resolve triggers
	// on a miss; 0 means DefaultMinRefresh.
	MinRefresh time.Duration
	Now        func() time.Time // nil means time.Now
}

// DefaultMinRefresh bounds how often a miss in Resolve refreshes the catalog.
const DefaultMinRefresh = 10 * time.Second

// Registry caches the tool catalogs of several workers and resolves tool
// names against them. It is safe for concurrent use.
type Registry struct {
	opts RegistryOptions

	mu       sync.RWMutex
	catalogs map[string][]toolkit.ToolDefinition // by worker id: the last good list
	// unauthorized holds the workers whose last catalog read answered
	// 401 (a secret that does not match).
	unauthorized map[string]bool
	lastMiss     time.Time // when Resolve last refreshed on a miss
	tools        []Tool    // resolved, in worker order, duplicates dropped
}

// NewRegistry returns a Registry with an empty catalog; call Refresh (and
// Run) to fill it.
func NewRegistry(opts RegistryOptions) *Registry {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefreshInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = DefaultMinRefresh
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Registry{opts: opts, catalogs: map[string][]toolkit.ToolDefinition{}, unauthorized: map[string]bool{}}
}

// Refresh fetches every worker's tool list. A worker that fails keeps its
// last good list; the failures are returned joined, and the other workers'
// lists are still updated.
func (r *Registry) Refresh(ctx context.Context) error {
	type result struct {
		defs []toolkit.ToolDefinition
		err  error
	}
	results := make([]result, len(r.opts.Workers))
	var wg sync.WaitGroup
	for i, w := range r.opts.Workers {
		wg.Go(func() {
			defs, err := w.Tools(ctx)
			results[i] = result{defs, err}
		})
	}
	wg.Wait()

	var errs []error
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, w := range r.opts.Workers {
		if results[i].err != nil {
			errs = append(errs, fmt.Errorf("refresh tools: %w", results[i].err))
			var we *WorkerError
			if errors.As(results[i].err, &we) && we.Status == http.StatusUnauthorized {
				r.unauthorized[w.ID()] = true
				r.opts.Logger.Error("worker_unauthorized: the worker refused the engine's credentials; its tools are unavailable until tools.workers["+w.ID()+"].http.secret matches the worker's secret", "worker", w.ID())
				continue
			}
			r.opts.Logger.Warn("tool catalog refresh failed", "worker", w.ID(), "error", results[i].err.Error())
			continue
		}
		delete(r.unauthorized, w.ID())
		r.catalogs[w.ID()] = results[i].defs
	}
	r.rebuild()
	return errors.Join(errs...)
}

// rebuild recomputes the resolved tool list; r.mu must be held.
func (r *Registry) rebuild() {
	seen := map[string]string{} // lower-cased fully qualified name → worker id
	var tools []Tool
	for _, w := range r.opts.Workers {
		for _, d := range r.catalogs[w.ID()] {
			d = normalize(d)
			key := strings.ToLower(d.FullyQualifiedName)
			if first, dup := seen[key]; dup {
				r.opts.Logger.Warn("tool served by several workers; using the first",
					"tool", d.FullyQualifiedName, "used", first, "ignored", w.ID())
				continue
			}
			seen[key] = w.ID()
			tools = append(tools, Tool{Worker: w, Def: d})
		}
	}
	r.tools = tools
}

// normalize fills the qualified names a worker may leave out (Arcade's
// Python workers send only fully_qualified_name).
func normalize(d toolkit.ToolDefinition) toolkit.ToolDefinition {
	if d.QualifiedName == "" {
		d.QualifiedName = d.Toolkit.Name + "." + d.Name
	}
	if d.FullyQualifiedName == "" {
		d.FullyQualifiedName = d.QualifiedName
		if d.Toolkit.Version != "" {
			d.FullyQualifiedName += "@" + d.Toolkit.Version
		}
	}
	return d
}

// Run refreshes the catalog every interval until ctx ends. It does not
// refresh at once; call Refresh first.
func (r *Registry) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Refresh(ctx) // failures are logged; the last good catalogs stay
		}
	}
}

// Tools returns every resolved tool, in worker order.
func (r *Registry) Tools() []Tool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Tool(nil), r.tools...)
}

// Resolve is Lookup that, on a miss, refreshes the catalog once and looks
// again, so a tool added to a worker is found without waiting for Run.
// Misses refresh at most once per MinRefresh, so unknown names cannot make
// the engine hammer its workers.
func (r *Registry) Resolve(ctx context.Context, name, version string) (Tool, error) {
	t, err := r.Lookup(name, version)
	if !errors.Is(err, ErrToolNotFound) {
		return t, err
	}
	r.mu.Lock()
	now := r.opts.Now()
	due := r.lastMiss.IsZero() || now.Sub(r.lastMiss) >= r.opts.MinRefresh
	if due {
		r.lastMiss = now
	}
	r.mu.Unlock()
	if due {
		_ = r.Refresh(ctx) // failures are logged; the last good catalogs stay
		t, err = r.Lookup(name, version)
	}
	if errors.Is(err, ErrToolNotFound) {
		if ids := r.unauthorizedWorkers(); len(ids) > 0 {
			return Tool{}, fmt.Errorf("%w: tool not found, and worker %s refused the engine's credentials (check tools.workers[].http.secret)", ErrWorkerUnauthorized, strings.Join(ids, ", "))
		}
	}
	return t, err
}

// unauthorizedWorkers lists, in worker order, the workers whose last
// catalog read answered 401.
func (r *Registry) unauthorizedWorkers() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ids []string
	for _, w := range r.opts.Workers {
		if r.unauthorized[w.ID()] {
			ids = append(ids, w.ID())
		}
	}
	return ids
}

// Lookup resolves name, which may be a fully qualified name
// ("Hooli.WhoAmI@1.0.0"), a qualified name ("Hooli.WhoAmI") or a bare tool
// name ("WhoAmI"); names compare case-insensitively. A non-empty version
// must match the toolkit version (and the one in name, if any). When several
// tools match, the first in worker order wins.
func (r *Registry) Lookup(name, version string) (Tool, error) {
	base, nameVersion, hasVersion := strings.Cut(strings.TrimSpace(name), "@")
	if hasVersion {
		if version != "" && version != nameVersion {
			return Tool{}, fmt.Errorf("%w: %q at version %q", ErrToolNotFound, name, version)
		}
		version = nameVersion
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if base != "" {
		for _, match := range []func(toolkit.ToolDefinition) bool{
			func(d toolkit.ToolDefinition) bool { return strings.EqualFold(d.QualifiedName, base) },
			func(d toolkit.ToolDefinition) bool { return strings.EqualFold(d.Name, base) },
			// The form LLM function names use: Toolkit_Name.
			func(d toolkit.ToolDefinition) bool {
				return strings.EqualFold(strings.ReplaceAll(d.QualifiedName, ".", "_"), base)
			},
		} {
			for _, t := range r.tools {
				if match(t.Def) && (version == "" || t.Def.Toolkit.Version == version) {
					return t, nil
				}
			}
		}
	}
	if version != "" {
		return Tool{}, fmt.Errorf("%w: %q at version %q", ErrToolNotFound, base, version)
	}
	return Tool{}, fmt.Errorf("%w: %q", ErrToolNotFound, base)
}
