package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/bolt"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/gcfloor"
	"github.com/authengine/authengine/internal/ratelimit"
)

// loaded is a configuration that passed every check serve needs.
type loaded struct {
	cfg       *config.Config
	providers map[string]*authflow.Provider
}

// load reads and validates the configuration and compiles every provider,
// exactly as serve does: check stops after it. Warnings and errors go to
// stderr as text.
func load(configPath, envPath string, stderr io.Writer) (*loaded, error) {
	return loadReporting(configPath, envPath, func(*config.Config) reporter { return textReport{stderr} })
}

// reporter tells the operator what loading a configuration found.
type reporter interface {
	warn(msg string)
	invalid(configPath, detail string)
}

// textReport writes to stderr as text.
type textReport struct{ w io.Writer }

func (r textReport) warn(msg string) { fmt.Fprintln(r.w, "warning:", msg) }
func (r textReport) invalid(configPath, detail string) {
	fmt.Fprintf(r.w, "%s: invalid configuration:\n%s\n", configPath, indent(detail))
}

// logReport logs (serve with log.format json, and reloads).
type logReport struct{ log *slog.Logger }

func (r logReport) warn(msg string) { r.log.Warn("configuration warning", "warning", msg) }
func (r logReport) invalid(configPath, detail string) {
	r.log.Error("invalid configuration", "config", configPath, "errors", strings.Split(strings.TrimSpace(detail), "\n"))
}

// loadReporting is load with the reporter report picks once the file is
// parsed (cfg is nil when it could not be).
func loadReporting(configPath, envPath string, report func(cfg *config.Config) reporter) (*loaded, error) {
	opts := []config.Option{config.WithEnvOverrides(), config.WithProviderCheck(authflow.Problems)}
	if envPath != "" {
		opts = append(opts, config.WithEnvFile(envPath))
	}
	cfg, warnings, err := config.Load(configPath, opts...)
	r := report(cfg)
	for _, w := range warnings {
		r.warn(w)
	}
	if _, statErr := os.Stat(configPath); errors.Is(statErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("configuration file %s not found (name another with --config or %s)", configPath, flagEnv("config"))
	}
	var invalid *config.Errors
	if err != nil && !errors.As(err, &invalid) {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	if err != nil {
		r.invalid(configPath, err.Error())
		return nil, errReported
	}
	providers, err := authflow.CompileAll(cfg)
	if err != nil {
		r.invalid(configPath, cfg.Redact(err.Error()))
		return nil, errReported
	}
	return &loaded{cfg: cfg, providers: providers}, nil
}

// jsonLog reports whether cfg's log format is JSON (the default).
func jsonLog(cfg *config.Config) bool { return !strings.EqualFold(cfg.Telemetry.Log.Format, "text") }

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func check(configPath, envPath string, stdout, stderr io.Writer) error {
	l, err := load(configPath, envPath, stderr)
	if err != nil {
		return err
	}
	if _, err := startupChecks(l.cfg); err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%s\n", configPath, indent(err.Error()))
		return errReported
	}
	// Discovered providers are fetched and compiled as serve does, without
	// the store's kept copies.
	if _, err := resolveProviders(context.Background(), l.cfg, l.providers, nil, slog.New(slog.DiscardHandler)); err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%s\n", configPath, indent(l.cfg.Redact(err.Error())))
		return errReported
	}
	redirect := l.cfg.API.RedirectURI()
	ids := make([]string, 0, len(l.providers))
	for id := range l.providers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	guides := map[string]string{} // the guide of every provider using a catalog template
	for _, p := range l.cfg.Auth.Providers {
		if p.ProviderID != "" {
			guides[p.ID] = p.GuideURL
		}
	}
	fmt.Fprintf(stdout, "%s: ok (enabled providers: %d, disabled: %d, store: %s)\n", configPath, len(ids), len(disabledProviders(l.cfg)), l.cfg.Store.Type)
	for _, id := range ids {
		p := l.providers[id]
		pkce := "off"
		if p.PKCE() {
			pkce = "S256"
		}
		fmt.Fprintf(stdout, "  provider %-20s grant=%-18s pkce=%-4s redirect_uri=%s\n", id, p.GrantType(), pkce, redirect)
		if guide := guides[id]; guide != "" {
			fmt.Fprintf(stdout, "    built-in template; create the OAuth app as its guide says: %s\n", guide)
		}
	}
	return nil
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	log, _ := newLeveledLogger(cfg, w)
	return log
}

// logLevel is the level log.level names (info when empty or unknown).
func logLevel(name string) slog.Level {
	switch strings.ToLower(name) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// newLeveledLogger is newLogger with its level, which a reload changes.
func newLeveledLogger(cfg config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	level := &slog.LevelVar{}
	level.Set(logLevel(cfg.Level))
	hopts := &slog.HandlerOptions{Level: level}
	if strings.ToLower(cfg.Format) == "text" {
		return slog.New(slog.NewTextHandler(w, hopts)), level
	}
	return slog.New(slog.NewJSONHandler(w, hopts)), level
}

// storeOpeners is the registry of store backends by store.type.
var storeOpeners = map[string]func(cfg *config.Config, log *slog.Logger) (store.Store, error){
	"embedded": func(cfg *config.Config, log *slog.Logger) (store.Store, error) {
		return bolt.Open(cfg.Store.Embedded.Path, bolt.Options{Logger: log})
	},
	"redis": func(cfg *config.Config, log *slog.Logger) (store.Store, error) {
		// go-redis logs through a process-wide logger of its own (dial
		// failures while Redis is down); send it to ours.
		goredis.SetLogger(redisLog{log})
		r := cfg.Store.Redis
		return redisstore.Open(redisstore.Config{
			URL: r.URL, Addrs: r.Addrs, MasterName: r.MasterName, Username: r.Username,
			Password: r.Password, DB: r.DB, TLS: r.TLS, KeyPrefix: r.KeyPrefix,
		}, redisstore.Options{Logger: log})
	},
}

// storeCollectors are the metrics a store backend keeps of itself.
func storeCollectors(st store.Store) []prometheus.Collector {
	var out []prometheus.Collector
	if c, ok := st.(interface{ CorruptRecordsSkipped() uint64 }); ok {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "authengine", Name: "store_corrupt_records_skipped_total",
			Help: "Records the store's expiry sweep could not decode and skipped (counted again by each sweep while they remain).",
		}, func() float64 { return float64(c.CorruptRecordsSkipped()) }))
	}
	return out
}

// redisLog adapts go-redis's logger to slog. Its messages carry addresses
// and errors, never credentials.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// devKeys are the keys development mode generates into the data dir.
type devKeys struct {
	RootKeyID string `json:"root_key_id"`
	RootKey   string `json:"root_key"`
	APIKey    string `json:"api_key"`
	AdminKey  string `json:"admin_key"`
}

// startupChecks are the checks serve makes of a loaded configuration
// before it listens, generates a key or opens the store; check makes the
// same ones, so the two agree on every configuration. It returns the
// configured root keys, parsed.
func startupChecks(cfg *config.Config) ([]seal.Key, error) {
	var keys []seal.Key
	for i, rk := range cfg.Security.RootKeys {
		k, err := seal.ParseKey(rk.ID, rk.Value)
		if err != nil {
			return nil, fmt.Errorf("security.root_keys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		if _, err := seal.New(keys); err != nil {
			return nil, fmt.Errorf("security.root_keys: %w", err)
		}
	}
	if !cfg.API.Development && (len(keys) == 0 || len(nonEmpty(cfg.API.APIKeys)) == 0) {
		return nil, errors.New("no root key or API key configured: set security.root_keys and api.api_keys (see README, Production setup), or set api.development: true to generate development keys")
	}
	return keys, nil
}

// resolveKeys returns the sealer and the API and admin keys. Without
// configured root or API keys, development mode generates them (and an
// admin key) into the data dir (mode 0600) on first start and reuses them
// later; outside development mode startupChecks has refused that already.
// No admin key outside development mode is allowed: the admin API then
// refuses every request, saying why.
//
// generate says whether a missing development keys file may be made anew:
// at start, not on a reload, where new API and admin keys would go with
// the root key the running engine keeps.
func resolveKeys(cfg *config.Config, log *slog.Logger, stderr io.Writer, generate bool) (*seal.Sealer, []string, []string, error) {
	apiKeys, adminKeys := nonEmpty(cfg.API.APIKeys), nonEmpty(cfg.API.AdminKeys)
	keys, err := startupChecks(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.API.Development && (len(keys) == 0 || len(apiKeys) == 0 || len(adminKeys) == 0) {
		dk, path, generated, err := loadDevKeys(cfg.DataDir, generate)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(keys) == 0 {
			k, err := seal.ParseKey(dk.RootKeyID, dk.RootKey)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			keys = append(keys, k)
		}
		if len(apiKeys) == 0 {
			apiKeys = []string{dk.APIKey}
		}
		if len(adminKeys) == 0 {
			adminKeys = []string{dk.AdminKey}
		}
		// The keys are shown once, when they are made; later starts say
		// where they are.
		switch {
		case !generated:
			log.Warn("DEVELOPMENT MODE: keys reused from the keys file; never run production like this", "keys_file", path)
		case jsonLog(cfg):
			log.Warn("DEVELOPMENT MODE: keys generated into the keys file; never run production like this", "keys_file", path, "api_key", dk.APIKey, "admin_key", dk.AdminKey)
		default:
			fmt.Fprintf(stderr, "\n  DEVELOPMENT MODE: keys generated into %s (do not use in production)\n  API key:   %s\n  Admin key: %s\n\n", path, dk.APIKey, dk.AdminKey)
			log.Warn("development mode: using generated keys; never run production like this", "keys_file", path)
		}
	}
	if len(adminKeys) == 0 {
		log.Warn("no api.admin_keys: the admin API (/v1/admin) refuses every request")
	}
	s, err := seal.New(keys)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("security.root_keys: %w", err)
	}
	return s, apiKeys, adminKeys, nil
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// loadDevKeys reads the development keys from dir, or, when generate is
// set, generates them there (generated) when there are none yet.
func loadDevKeys(dir string, generate bool) (dk devKeys, path string, generated bool, err error) {
	path = filepath.Join(dir, "dev-keys.json")
	raw, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(raw, &dk); err != nil {
			return dk, path, false, fmt.Errorf("read %s: %w", path, err)
		}
		return dk, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return dk, path, false, fmt.Errorf("read %s: %w", path, err)
	}
	if !generate {
		return dk, path, false, fmt.Errorf("the development keys file %s is missing: new keys would not match the root key the running engine seals with; restore the file, or restart the engine to generate new keys", path)
	}
	// A fresh id each time: records sealed under a lost keys file then name
	// a key that is missing, which the key inventory at start reports,
	// rather than a different key under the same id.
	rootID := "dev-" + randomToken()[:8]
	_, rootValue, err := seal.GenerateKey(rootID)
	if err != nil {
		return dk, path, false, err
	}
	dk = devKeys{RootKeyID: rootID, RootKey: rootValue, APIKey: "ae_dev_" + randomToken(), AdminKey: "ae_admin_" + randomToken()}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dk, path, false, fmt.Errorf("create data dir: %w", err)
	}
	out, _ := json.MarshalIndent(dk, "", "  ")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return dk, path, false, fmt.Errorf("write %s: %w", path, err)
	}
	return dk, path, true, nil
}

func randomToken() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// providerClient is the HTTP client for provider requests: bounded, with
// connection reuse, and no redirects followed (token endpoints that
// redirect are misconfigured, and following would resend credentials).
func providerClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	tr.ResponseHeaderTimeout = 20 * time.Second
	return &http.Client{
		Transport: tr,
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// instance is an engine assembled from a loaded configuration: its store,
// the engine, and the HTTP handlers serve runs on its listeners.
type instance struct {
	cfg    *config.Config
	log    *slog.Logger
	store  store.Store
	sealer engine.Sealer
	engine *engine.Engine
	api    httpapi.Options
	// keys are the API and admin keys the routes accept (a reload
	// replaces them).
	keys *httpapi.Keys
	// mcp are the MCP providers whose client metadata documents are served.
	mcp []string
	// guarded are the providers completed from remote metadata, whose
	// requests go through the private-address guard (as assembled; a
	// reload tells the engine, not this list).
	guarded []string
	// handler serves the main listener; admin and metrics serve
	// api.admin_listen and telemetry.metrics.listen (nil when those are
	// not set and their routes are on handler).
	handler, admin, metrics *echo.Echo
	// stops run in reverse order by close.
	stops []func()
}

// close stops what assemble started (the tool catalog refresh) and closes
// the store; the engine is closed by serve's drain first.
func (i *instance) close() {
	for j := len(i.stops) - 1; j >= 0; j-- {
		i.stops[j]()
	}
	i.stops = nil
}

// assemble opens the store and the keyring, builds the engine and mounts
// every HTTP route serve serves: a route mounted anywhere but here is not
// served (and not checked against docs/openapi.yaml).
func assemble(ctx context.Context, l *loaded, log *slog.Logger, allowMissingKeys bool, stderr io.Writer) (_ *instance, err error) {
	cfg := l.cfg
	root, apiKeys, adminKeys, err := resolveKeys(cfg, log, stderr, true)
	if err != nil {
		return nil, err
	}
	st, err := openStore(cfg, log)
	if err != nil {
		return nil, err
	}
	inst := &instance{cfg: cfg, log: log, store: st, stops: []func(){func() { st.Close() }}}
	defer func() {
		if err != nil {
			inst.close()
		}
	}()
	// Records are sealed with data keys the root keys wrap (engine/keyring).
	sealer, err := keyring.Open(ctx, root, st, keyring.Options{Logger: log, Lazy: true})
	if err != nil {
		return nil, fmt.Errorf("open the keyring: %w", err)
	}
	if err = keyInventory(ctx, sealer, st, allowMissingKeys, log); err != nil {
		return nil, err
	}
	// Providers given by an issuer or an MCP server URL are completed from
	// their metadata now; what is fetched and registered is kept sealed in
	// the store, so a later start reuses the registration and, while a
	// server is unreachable, the kept metadata.
	found, err := resolveProviders(ctx, cfg, l.providers, engine.DiscoveryCache{Store: st, Sealer: sealer}, log)
	if err != nil {
		return nil, fmt.Errorf("%s", cfg.Redact(err.Error()))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(storeCollectors(st)...)
	reg.MustRegister(buildInfoCollector())
	eng, err := engine.New(engine.Options{
		Providers:              l.providers,
		DisabledProviders:      disabledProviders(cfg),
		Store:                  st,
		Sealer:                 sealer,
		HTTPClient:             providerClient(),
		AllowPrivateEndpoints:  cfg.Security.AllowPrivateEndpoints,
		FlowTTL:                cfg.Auth.FlowTTL,
		RefreshMargin:          cfg.Auth.RefreshMargin,
		PublicURL:              cfg.API.PublicURL,
		AllowedRedirectOrigins: cfg.API.AllowedRedirectOrigins,
		VerifierURL:            verifierURL(cfg),
		Logger:                 log,
		Metrics:                engine.NewMetrics(reg),
		FlowsPerUser:           cfg.API.RateLimits.FlowsPerUser,
		FlowsPerAPIKey:         cfg.API.RateLimits.FlowsPerAPIKey,
		EventTypes:             webhookEventTypes(cfg),
		AuditRetention:         cfg.Audit.Retention,
		GuardedProviders:       found.guarded,

		// MCP providers (authflow/discovery).
		Reregister:              found.reregister,
		ClientMetadataProviders: found.mcp,

		ConnectionCache: connectionCache(cfg.Store.Cache),
	})
	if err != nil {
		return nil, err
	}
	eng.Go(eng.RunAuditRetention)
	if err := startWebhooks(cfg, st, eng, log); err != nil {
		return nil, err
	}
	if err := startSweeper(cfg, st, eng, log); err != nil {
		return nil, err
	}
	// The admin API shows YAML providers (read-only) beside the ones added
	// at run time, which are loaded now and kept current until shutdown.
	eng.SetConfigProviders(cfg.DisplayProviders())
	if err = eng.LoadRuntimeProviders(ctx); err != nil {
		return nil, fmt.Errorf("load runtime providers: %w", err)
	}
	api := httpapi.Options{
		Engine:       eng,
		APIKeys:      apiKeys,
		AdminKeys:    adminKeys,
		MaxBodyBytes: cfg.API.MaxBodyBytes,
		Logger:       log,
		Limits:       rateLimits(cfg.API),
		Pprof:        cfg.Telemetry.Pprof,
	}
	if cfg.Telemetry.Metrics.Enabled == nil || *cfg.Telemetry.Metrics.Enabled {
		api.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		api.MetricsPath = cfg.Telemetry.Metrics.Path
		api.MetricsToken = cfg.Telemetry.Metrics.BearerToken
		api.SeparateMetrics = cfg.Telemetry.Metrics.Listen != ""
	}
	api.SeparateAdmin = cfg.API.AdminListen != ""
	api.NoAccessLog = !cfg.API.AccessLogEnabled()
	inst.sealer, inst.keys, inst.mcp = sealer, httpapi.NewKeys(apiKeys, adminKeys), found.mcp
	inst.guarded = found.guarded
	api.Keys = inst.keys
	api.RequestMetrics = httpapi.NewRequestMetrics(reg)
	handler := httpapi.New(api)
	mountDemo(handler, cfg, log)
	toolService, stopTools, err := buildTools(ctx, cfg, eng, log)
	if err != nil {
		return nil, err
	}
	inst.stops = append(inst.stops, stopTools)
	httpapi.MountTools(handler, toolService, inst.keys, api.Limits)

	inst.engine, inst.api, inst.handler = eng, api, handler
	if api.SeparateAdmin {
		inst.admin = httpapi.NewAdmin(api)
	}
	// The console goes with the admin plane: on the admin listener when
	// there is one.
	consoleOn := handler
	if api.SeparateAdmin {
		consoleOn = inst.admin
	}
	if err := mountConsole(consoleOn, cfg, eng, st, sealer, adminKeys, log); err != nil {
		return nil, err
	}
	if api.SeparateMetrics {
		inst.metrics = httpapi.NewMetrics(api)
	}
	return inst, nil
}

// serve runs the engine until ctx ends. With log.format json, everything
// it writes to stderr once the configuration is parsed is a JSON log line:
// configuration warnings, the development-mode notice, the access log and
// the error that stops it.
func serve(ctx context.Context, configPath, envPath string, allowMissingKeys bool, stdout, stderr io.Writer) (err error) {
	// SIGHUP reloads the configuration (reload.go); until it is caught
	// here it would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var (
		log   *slog.Logger
		level *slog.LevelVar
	)
	l, err := loadReporting(configPath, envPath, func(cfg *config.Config) reporter {
		if cfg == nil {
			return textReport{stderr}
		}
		log, level = newLeveledLogger(cfg.Telemetry.Log, stderr)
		if !jsonLog(cfg) {
			return textReport{stderr}
		}
		return logReport{log}
	})
	if err != nil {
		return err
	}
	cfg := l.cfg
	if jsonLog(cfg) {
		defer func() {
			if err != nil && !errors.Is(err, errReported) {
				log.Error("serve stopped", "err", err)
				err = errReported
			}
		}()
	}
	if _, err := startupChecks(cfg); err != nil {
		return err
	}
	// Listen first, then make sure the directories can be written: a
	// port in use or a data dir that cannot be created fails before any
	// key or file is made.
	addr := net.JoinHostPort(cfg.API.Host, strconv.Itoa(cfg.API.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	defer ln.Close()
	admin := sideListener{setting: "api.admin_listen", what: "admin API", addr: cfg.API.AdminListen}
	metrics := sideListener{setting: "telemetry.metrics.listen", what: "metrics", addr: cfg.Telemetry.Metrics.Listen}
	var adminLn, metricsLn net.Listener
	if cfg.API.AdminListen != "" {
		if adminLn, err = admin.listen(); err != nil {
			return err
		}
		defer adminLn.Close()
	}
	if cfg.Telemetry.Metrics.Listen != "" && (cfg.Telemetry.Metrics.Enabled == nil || *cfg.Telemetry.Metrics.Enabled) {
		if metricsLn, err = metrics.listen(); err != nil {
			return err
		}
		defer metricsLn.Close()
	}
	if err := prepareDirs(cfg); err != nil {
		return err
	}
	inst, err := assemble(ctx, l, log, allowMissingKeys, stderr)
	if err != nil {
		return err
	}
	defer inst.close()
	eng, api := inst.engine, inst.api
	// The floor belongs to the process, so it is set here and not by the
	// engine (tests run many engines in one process).
	defer gcfloor.Start(cfg.Runtime.GCHeapFloorBytes)()

	srv := &http.Server{
		Handler:           inst.handler,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      75 * time.Second, // status waits hold up to 59 s
		IdleTimeout:       120 * time.Second,
	}
	fmt.Fprintf(stdout, "authengine %s listening on http://%s\n", displayVersion(), ln.Addr())
	fmt.Fprintf(stdout, "register this redirect URI with your providers: %s\n", cfg.API.RedirectURI())
	log.Info("engine started", "addr", ln.Addr().String(), "store", cfg.Store.Type, "providers", len(l.providers))

	errc := make(chan error, 3)
	stopAdmin := func(context.Context) {}
	if api.SeparateAdmin {
		admin.handler = inst.admin
		stopAdmin = admin.start(adminLn, log, stdout, errc)
	}
	stopMetrics := func(context.Context) {}
	if api.SeparateMetrics {
		metrics.handler, metrics.path = inst.metrics, api.MetricsPath
		stopMetrics = metrics.start(metricsLn, log, stdout, errc)
	}
	go func() { errc <- srv.Serve(ln) }()
	for serving := true; serving; {
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-hup:
			inst.reload(ctx, configPath, envPath, level)
		case <-ctx.Done():
			serving = false
		}
	}
	// Drain: held waits answer now (pending) instead of being cut off,
	// requests and refreshes in flight finish, refreshed tokens the store
	// has not taken are written, and only then does the store close (the
	// deferred st.Close), all within api.shutdown_timeout.
	log.Info("shutting down", "timeout", cfg.API.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.API.ShutdownTimeout)
	defer cancel()
	eng.Drain()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	stopAdmin(sctx)
	stopMetrics(sctx)
	if err := eng.Close(sctx); err != nil {
		log.Error("engine shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

func verifierURL(cfg *config.Config) string {
	if cfg.Auth.UserVerification.Enabled {
		return cfg.Auth.UserVerification.VerifierURL
	}
	return ""
}

func disabledProviders(cfg *config.Config) []string {
	var ids []string
	for _, p := range cfg.Auth.Providers {
		if !p.IsEnabled() {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// rateLimits builds the API's per-instance limiters from api.rate_limits.
// In development mode clients on loopback are not limited.
func rateLimits(a config.API) httpapi.RateLimits {
	rl := a.RateLimits
	out := httpapi.RateLimits{
		APIKey:         ratelimit.New(rl.APIKey.PerSecond, time.Second, rl.APIKey.Burst),
		Callback:       ratelimit.New(rl.Callback.PerSecond, time.Second, rl.Callback.Burst),
		ExemptLoopback: a.Development,
	}
	for _, p := range a.TrustedProxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, _ := netip.ParseAddr(p) // validated by config
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		out.TrustedProxies = append(out.TrustedProxies, prefix)
	}
	return out
}

// connectionCache translates store.cache.
func connectionCache(c config.StoreCache) engine.ConnectionCacheOptions {
	o := engine.ConnectionCacheOptions{Disabled: !c.IsEnabled(), MaxEntries: c.MaxEntries}
	if c.MaxAge != nil {
		o.MaxAge = *c.MaxAge
	}
	return o
}
