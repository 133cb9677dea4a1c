package workerclient_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authengine/authengine/engine/workerclient"
	"github.com/authengine/authengine/toolkit"
)

const secret = "engine-worker-secret-at-least-32-bytes"

type whoIn struct {
	Greeting string `json:"greeting,omitempty" desc:"How to greet"`
}

// testWorker is a real toolkit.Worker with one authorized tool and one slow tool.
type testWorker struct {
	*toolkit.Worker
	calls     atomic.Int32
	lastToken atomic.Pointer[string]
}

func newWorker(t *testing.T, toolkitName, version string) *testWorker {
	t.Helper()
	w, err := toolkit.NewWorker(toolkit.WorkerOptions{
		Toolkit: toolkit.ToolkitDefinition{Name: toolkitName, Description: "test", Version: version},
		Secret:  secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWorker{Worker: w}
	who := toolkit.New(toolkit.Definition{
		Name: "WhoAmI", Description: "Says who the user is",
		RequiresAuth: &toolkit.OAuth2{ID: "hooli", Scopes: []string{"profile"}},
	}, func(ctx context.Context, tc toolkit.Context, in whoIn) (any, error) {
		tw.calls.Add(1)
		tok := tc.Authorization.Token
		tw.lastToken.Store(&tok)
		return map[string]any{"greeting": in.Greeting, "user": tc.UserID, "sub": tc.Authorization.UserInfo["sub"]}, nil
	})
	slow := toolkit.New(toolkit.Definition{Name: "Slow", Description: "Takes its time"},
		func(ctx context.Context, _ toolkit.Context, _ struct{}) (any, error) {
			tw.calls.Add(1)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Second):
				return "done", nil
			}
		})
	if err := w.Register(who, slow); err != nil {
		t.Fatal(err)
	}
	return tw
}

// faulty fails the first n requests with status, then passes them to next.
type faulty struct {
	next     http.Handler
	failures atomic.Int32
	status   int
	seen     atomic.Int32
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.seen.Add(1)
	if f.failures.Add(-1) >= 0 {
		w.WriteHeader(f.status)
		return
	}
	f.next.ServeHTTP(w, r)
}

func client(url string, retry int, mod ...func(*workerclient.Options)) *workerclient.Client {
	o := workerclient.Options{ID: "local", URI: url, Secret: secret, Timeout: 2 * time.Second, Retry: retry, RetryBackoff: time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	return workerclient.New(o)
}

func whoRequest() toolkit.ToolCallRequest {
	return toolkit.ToolCallRequest{
		RunID: "run", ExecutionID: "exec-7", CreatedAt: time.Now().UTC().Format(time.RFC3339),
		Tool:   toolkit.ToolReference{Name: "WhoAmI", Toolkit: "Hooli", Version: "1.0.0"},
		Inputs: map[string]any{"greeting": "hello"},
		Context: toolkit.ToolContext{
			Authorization: &toolkit.ToolAuthorizationContext{Token: "tok-abc", UserInfo: map[string]any{"sub": "u1"}},
			UserID:        "ada",
		},
	}
}

func TestToolsListsTheWorkersDefinitions(t *testing.T) {
	srv := httptest.NewServer(newWorker(t, "Hooli", "1.0.0"))
	defer srv.Close()
	defs, err := client(srv.URL, 0).Tools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 2 || defs[0].FullyQualifiedName != "Hooli.WhoAmI@1.0.0" || defs[1].Name != "Slow" {
		t.Fatalf("defs = %+v", defs)
	}
	if a := defs[0].Requirements.Authorization; a == nil || a.ID != "hooli" || a.OAuth2.Scopes[0] != "profile" {
		t.Fatalf("authorization requirement = %+v", a)
	}
}

func TestInvokeRunsTheToolWithTheEnginesContext(t *testing.T) {
	tw := newWorker(t, "Hooli", "1.0.0")
	var auth atomic.Pointer[string]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		auth.Store(&h)
		tw.ServeHTTP(w, r)
	}))
	defer srv.Close()
	now := time.Now()
	c := client(srv.URL, 0, func(o *workerclient.Options) { o.Now = func() time.Time { return now } })

	resp, err := c.Invoke(context.Background(), whoRequest())
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Success || resp.ExecutionID != "exec-7" {
		t.Fatalf("resp = %+v", resp)
	}
	v, _ := resp.Output.Value.(map[string]any)
	if v["greeting"] != "hello" || v["user"] != "ada" || v["sub"] != "u1" {
		t.Fatalf("value = %v", resp.Output.Value)
	}
	if got := *tw.lastToken.Load(); got != "tok-abc" {
		t.Fatalf("tool saw token %q", got)
	}

	t.Run("the call carries a fresh HS256 token for the worker audience", func(t *testing.T) {
		raw, ok := strings.CutPrefix(*auth.Load(), "Bearer ")
		if !ok {
			t.Fatalf("header %q", *auth.Load())
		}
		claims := jwt.MapClaims{}
		_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now })).
			ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil })
		if err != nil {
			t.Fatal(err)
		}
		if claims["aud"] != "worker" || claims["ver"] != "1" {
			t.Errorf("aud %v ver %v", claims["aud"], claims["ver"])
		}
		if iat, exp := claims["iat"].(float64), claims["exp"].(float64); iat != float64(now.Unix()) || exp-iat != 60 {
			t.Errorf("iat %v exp %v", iat, exp)
		}
	})
}

func TestAWrongSecretIsAWorkerError(t *testing.T) {
	f := &faulty{next: newWorker(t, "Hooli", "1.0.0")}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := client(srv.URL, 3, func(o *workerclient.Options) { o.Secret = "not-the-secret-not-the-secret-not-the" })
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"listing tools with the wrong secret fails with 401", func() error { _, err := c.Tools(context.Background()); return err }},
		{"invoking with the wrong secret fails with 401", func() error { _, err := c.Invoke(context.Background(), whoRequest()); return err }},
	} {
		t.Run(call.name, func(t *testing.T) {
			f.seen.Store(0)
			err := call.do()
			var we *workerclient.WorkerError
			if !errors.As(err, &we) || we.Status != http.StatusUnauthorized {
				t.Fatalf("err = %v", err)
			}
			if !strings.HasPrefix(we.Detail, "Invalid token. Error: ") {
				t.Errorf("detail %q", we.Detail)
			}
			if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks a secret: %v", err)
			}
			if n := f.seen.Load(); n != 1 {
				t.Errorf("a 401 was retried: %d requests", n)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		failures  int32
		retry     int
		call      func(*workerclient.Client) error
		wantErr   int // 0: success; else the WorkerError status
		wantTried int32
	}{
		{"tools are retried on 503 until they succeed", 503, 2, 3, listTools, 0, 3},
		{"tools are retried on 502 and 504", 502, 1, 1, listTools, 0, 2},
		{"tools give up after the retry budget", 503, 5, 2, listTools, 503, 3},
		{"health is retried on 504", 504, 1, 1, health, 0, 2},
		{"tools are not retried on 500", 500, 1, 3, listTools, 500, 1},
		{"no retry budget means one attempt", 503, 1, 0, listTools, 503, 1},
		{"invoke is not retried on 503 because the worker saw it", 503, 1, 3, invokeWho, 503, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &faulty{next: newWorker(t, "Hooli", "1.0.0"), status: tc.status}
			f.failures.Store(tc.failures)
			srv := httptest.NewServer(f)
			defer srv.Close()
			err := tc.call(client(srv.URL, tc.retry))
			if tc.wantErr == 0 && err != nil {
				t.Fatalf("err = %v", err)
			}
			var we *workerclient.WorkerError
			if tc.wantErr != 0 && (!errors.As(err, &we) || we.Status != tc.wantErr) {
				t.Fatalf("err = %v, want HTTP %d", err, tc.wantErr)
			}
			if n := f.seen.Load(); n != tc.wantTried {
				t.Fatalf("%d requests, want %d", n, tc.wantTried)
			}
		})
	}
}

func listTools(c *workerclient.Client) error { _, err := c.Tools(context.Background()); return err }
func invokeWho(c *workerclient.Client) error {
	_, err := c.Invoke(context.Background(), whoRequest())
	return err
}

func TestInvokeIsNotRetriedOnceTheWorkerHasTheRequest(t *testing.T) {
	tw := newWorker(t, "Hooli", "1.0.0")
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		// Run the tool, then drop the connection before answering.
		tw.ServeHTTP(httptest.NewRecorder(), r)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	}))
	defer srv.Close()
	_, err := client(srv.URL, 3).Invoke(context.Background(), whoRequest())
	if !errors.Is(err, workerclient.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if n, ran := seen.Load(), tw.calls.Load(); n != 1 || ran != 1 {
		t.Fatalf("worker saw %d requests and ran the tool %d times, want 1 and 1", n, ran)
	}
}

func TestInvokeIsRetriedWhenTheConnectionCouldNotBeMade(t *testing.T) {
	tw := newWorker(t, "Hooli", "1.0.0")
	srv := httptest.NewServer(tw)
	defer srv.Close()
	var dials atomic.Int32
	d := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) <= 2 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		}
		return d.DialContext(ctx, network, addr)
	}}}
	resp, err := client(srv.URL, 3, func(o *workerclient.Options) { o.HTTPClient = hc }).Invoke(context.Background(), whoRequest())
	if err != nil || !resp.Success {
		t.Fatalf("err = %v, resp %+v", err, resp)
	}
	if n, ran := dials.Load(), tw.calls.Load(); n != 3 || ran != 1 {
		t.Fatalf("%d dials and %d tool runs, want 3 and 1", n, ran)
	}
}

func TestAnUnreachableWorkerIsErrUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c := client(url, 1)
	for name, call := range map[string]func() error{
		"tools":  func() error { return listTools(c) },
		"invoke": func() error { return invokeWho(c) },
		"health": func() error { return c.Health(context.Background()) },
	} {
		t.Run(name+" on a closed port is unreachable", func(t *testing.T) {
			if err := call(); !errors.Is(err, workerclient.ErrUnreachable) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestInvokeTimesOutWithoutRetrying(t *testing.T) {
	tw := newWorker(t, "Hooli", "1.0.0")
	srv := httptest.NewServer(tw)
	defer srv.Close()
	c := client(srv.URL, 3, func(o *workerclient.Options) { o.Timeout = 150 * time.Millisecond })
	req := whoRequest()
	req.Tool.Name, req.Inputs = "Slow", nil
	start := time.Now()
	_, err := c.Invoke(context.Background(), req)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, workerclient.ErrUnreachable) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v", took)
	}
	// The tool may still be winding down; give the server a moment to count.
	time.Sleep(50 * time.Millisecond)
	if ran := tw.calls.Load(); ran != 1 {
		t.Fatalf("tool ran %d times, want 1", ran)
	}
}

func TestAnOversizedResponseIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[{"name":"`))
		w.Write(bytes.Repeat([]byte("a"), workerclient.MaxResponseBytes))
		w.Write([]byte(`"}]`))
	}))
	defer srv.Close()
	_, err := client(srv.URL, 0).Tools(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

func TestHealth(t *testing.T) {
	t.Run("a healthy worker passes", func(t *testing.T) {
		srv := httptest.NewServer(newWorker(t, "Hooli", "1.0.0"))
		defer srv.Close()
		if err := client(srv.URL, 0).Health(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a worker reporting another status fails", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"degraded"}`))
		}))
		defer srv.Close()
		if err := client(srv.URL, 0).Health(context.Background()); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestClientStringHidesTheSecret(t *testing.T) {
	var logs bytes.Buffer
	c := client("http://127.0.0.1:1", 0)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "worker", c)
	if s := c.String() + logs.String(); strings.Contains(s, secret) {
		t.Fatalf("secret leaked: %s", s)
	}
}

func health(c *workerclient.Client) error { return c.Health(context.Background()) }

func TestARedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	_, err := client(srv.URL, 0).Invoke(context.Background(), whoRequest())
	var we *workerclient.WorkerError
	if !errors.As(err, &we) || we.Status != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v, want a 307 WorkerError", err)
	}
	if elsewhere.Load() != 0 {
		t.Fatal("the tool call was sent to the redirect target")
	}
}

// pythonResponse is a ToolCallResponse as Arcade's Python worker renders it.
const pythonResponse = `{"execution_id":"exec-7","finished_at":"2026-01-01T00:00:01.5","duration":12.5,"success":false,
"output":{"value":null,"logs":null,"error":{"message":"Rate limited","kind":"UPSTREAM_RUNTIME_RATE_LIMIT",
"developer_message":null,"can_retry":true,"additional_prompt_content":null,"retry_after_ms":3000,
"stacktrace":null,"status_code":429,"extra":null},"requires_authorization":null}}`

func TestAResponseFromArcadesPythonWorkerDecodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(pythonResponse))
	}))
	defer srv.Close()
	resp, err := client(srv.URL, 0).Invoke(context.Background(), whoRequest())
	if err != nil {
		t.Fatal(err)
	}
	e := resp.Output.Error
	if resp.Success || resp.Duration != 12.5 || e == nil || e.Kind != toolkit.KindUpstreamRuntimeRateLimit ||
		!e.CanRetry || e.RetryAfterMS == nil || *e.RetryAfterMS != 3000 || e.StatusCode == nil || *e.StatusCode != 429 {
		t.Fatalf("resp = %+v, error %+v", resp, e)
	}
}

// TestEveryCallCarriesAUniqueJTI: a toolkit worker accepts each jti once,
// so every call the engine makes, concurrent ones included, must carry a
// jti of its own.
func TestEveryCallCarriesAUniqueJTI(t *testing.T) {
	tw := newWorker(t, "Hooli", "1.0.0")
	var mu sync.Mutex
	jtis := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), claims); err == nil {
			jti, _ := claims["jti"].(string)
			mu.Lock()
			jtis[jti]++
			mu.Unlock()
		}
		tw.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := client(srv.URL, 0)
	const calls = 40
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			if _, err := c.Invoke(context.Background(), whoRequest()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(jtis) != calls {
		t.Fatalf("%d distinct jtis over %d calls: %v", len(jtis), calls, jtis)
	}
	if _, ok := jtis[""]; ok {
		t.Fatal("a call carried no jti")
	}
}
