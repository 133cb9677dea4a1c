package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestComposeFile checks docker-compose.yml's production shape: every
// service restarts on its own, every image is pinned to a version, two
// engine replicas share Redis, and the keys reach them as secret files,
// not environment variables; deploy/engine.redis.yaml, with those files
// in place, passes check.
func TestComposeFile(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Restart     string            `yaml:"restart"`
			Environment map[string]string `yaml:"environment"`
			Secrets     []string          `yaml:"secrets"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	engines := 0
	for name, s := range compose.Services {
		if s.Restart == "" || s.Restart == "no" {
			t.Errorf("service %s has no restart policy", name)
		}
		_, tag, ok := strings.Cut(s.Image, ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		for k := range s.Environment {
			if strings.Contains(k, "KEY") || strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD") {
				t.Errorf("service %s passes %s in the environment; pass it as a secret file", name, k)
			}
		}
		if len(s.Command) > 0 && s.Command[0] == "serve" {
			engines++
			for _, want := range []string{"root_key", "api_key", "admin_key"} {
				if !strings.Contains(strings.Join(s.Secrets, " "), want) {
					t.Errorf("engine service %s lacks the %s secret", name, want)
				}
			}
		}
	}
	if engines != 2 {
		t.Errorf("%d engine services, want two replicas", engines)
	}
	for name, s := range compose.Secrets {
		if s.File == "" {
			t.Errorf("secret %s is not a file", name)
		}
	}

	// deploy/engine.redis.yaml reads the secrets compose mounts.
	cfg, err := os.ReadFile(filepath.Join(root, "deploy", "engine.redis.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secrets := map[string]string{"root_key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n",
		"api_key": "compose-api-key-0123456789\n", "admin_key": "compose-admin-key-0123456789\n"}
	for name, v := range secrets {
		if !strings.Contains(string(cfg), "$<file:/run/secrets/"+name+">") {
			t.Errorf("deploy/engine.redis.yaml does not read /run/secrets/%s", name)
		}
		os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600)
	}
	local := filepath.Join(dir, "engine.yaml")
	os.WriteFile(local, []byte(strings.ReplaceAll(string(cfg), "/run/secrets/", dir+"/")), 0o600)
	if code, out, errOut := runCmd(t, "check", "-c", local); code != 0 || !strings.Contains(out, "store: redis") {
		t.Errorf("check deploy/engine.redis.yaml with the secrets in place: exit %d\n%s%s", code, out, errOut)
	}
}

// TestImageRuns builds the FROM-scratch image with `make image` and runs
// its default command as shipped: it must start as the non-root user,
// write its development keys to the data volume and answer its readiness
// probe through a port mapping. It needs a running Docker daemon.
func TestImageRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a container image")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("no running Docker daemon (docker info: %v %s): the container test needs one (apt install docker.io, then start dockerd)", err, strings.TrimSpace(string(out)))
	}
	image := fmt.Sprintf("authengine-imagetest:%d", os.Getpid())
	mk := exec.Command("make", "image", "IMAGE="+image)
	mk.Dir = repoRoot(t)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
	out, err := exec.Command("docker", "run", "-d", "-p", "127.0.0.1::9099", image).Output()
	if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "-v", id).Run() })
	logs := func() string {
		b, _ := exec.Command("docker", "logs", id).CombinedOutput()
		return string(b)
	}
	port, err := exec.Command("docker", "port", id, "9099/tcp").Output()
	if err != nil {
		t.Fatalf("docker port: %v\n%s", err, logs())
	}
	addr := strings.TrimSpace(strings.Split(string(port), "\n")[0])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/v1/health/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the container's default command did not become ready at %s: %v\n%s", addr, err, logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The keys file is relative to the working directory, the volume.
	if l := logs(); !strings.Contains(l, "keys generated") || !strings.Contains(l, `"keys_file":"data/dev-keys.json"`) {
		t.Errorf("the container did not write its development keys to its data directory:\n%s", l)
	}
	where, _ := exec.Command("docker", "inspect", "--format", "{{.Config.WorkingDir}} {{range $v, $_ := .Config.Volumes}}{{$v}}{{end}}", image).Output()
	if w := strings.TrimSpace(string(where)); w != "/var/lib/authengine /var/lib/authengine" {
		t.Errorf("working directory and volume: %q, want both /var/lib/authengine", w)
	}
	user, _ := exec.Command("docker", "inspect", "--format", "{{.Config.User}}", image).Output()
	if u := strings.TrimSpace(string(user)); u == "" || strings.HasPrefix(u, "0") || u == "root" {
		t.Errorf("the image runs as %q, want a non-root user", u)
	}
}
