package netguard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// fakeResolver answers from a fixed table: a resolver the tests can point
// at a test name.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	r := fakeResolver{
		"internal.test":  {"10.1.2.3"},
		"metadata.test":  {"169.254.169.254"},
		"mixed.test":     {"93.184.216.34", "127.0.0.1"},
		"public.test":    {"93.184.216.34", "2606:4700::6810:84e5"},
		"mapped.test":    {"::ffff:192.168.0.1"},
		"localhost.test": {"::1"},
	}
	tests := []struct {
		url   string
		class string // "" public; "-" refused as not canonical
	}{
		{"http://127.0.0.1:8080/token", "loopback"},
		{"http://127.9.9.9/", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[::1]:9099/", "loopback"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
		{"http://[::ffff:7f00:1]/", "loopback"},
		{"http://[64:ff9b::a9fe:a9fe]/", "link-local"},
		{"http://[2002:c0a8:0101::1]/", "private"},
		{"http://[fe80::1%25eth0]/", "link-local"},
		{"http://[fd00:ec2::254]/", "private"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://[::]/", "unspecified"},
		{"http://0/", "unspecified"},
		{"http://2130706433/", "loopback"},
		{"http://0x7f000001/", "loopback"},
		{"http://0177.0.0.1/", "loopback"},
		{"http://127.1/", "loopback"},
		{"http://10.0.0.1/", "private"},
		{"http://172.16.5.4/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://100.64.0.1/", "carrier-grade NAT"},
		{"http://224.0.0.1/", "multicast"},
		{"http://255.255.255.255/", "reserved"},
		{"https://internal.test/token", "private"},
		{"https://metadata.test/", "link-local"},
		{"https://mixed.test/", "loopback"},
		{"https://mapped.test/", "private"},
		{"https://localhost.test./", "loopback"},
		{"http://134744072/", "-"},
		{"https://public.test/token", ""},
		{"https://93.184.216.34/token", ""},
		{"https://[2606:4700::6810:84e5]/", ""},
		{"https://unresolvable.test/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURL(context.Background(), r, tt.url)
			var blocked *BlockedError
			switch {
			case tt.class == "" && err != nil:
				t.Fatalf("refused a public destination: %v", err)
			case tt.class == "-" && !errors.Is(err, ErrNotCanonical):
				t.Fatalf("err = %v, want ErrNotCanonical", err)
			case tt.class != "" && tt.class != "-" && (!errors.As(err, &blocked) || blocked.Class != tt.class):
				t.Fatalf("err = %v, want a %s address refused", err, tt.class)
			}
		})
	}
}

// TestCheckURLResolvesNamesWithTheSystemResolver: localhost, a name, is
// refused through the real resolver.
func TestCheckURLResolvesNamesWithTheSystemResolver(t *testing.T) {
	err := CheckURL(context.Background(), nil, "http://localhost:9099/token")
	var blocked *BlockedError
	if !errors.As(err, &blocked) || blocked.Class != "loopback" {
		t.Fatalf("err = %v, want localhost refused as loopback", err)
	}
}

// TestTransportRefusesPrivateAddressesAtConnectTime: the dial-time guard
// refuses a loopback server reached by address and by a name that
// resolves to it at connect time (as a rebound name would), and the
// server never sees the request; without the guard the same request
// arrives.
func TestTransportRefusesPrivateAddressesAtConnectTime(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	guarded := &http.Client{Transport: Transport(nil)}
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, target := range []string{srv.URL, byName} {
		resp, err := guarded.Get(target + "/userinfo")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s through the guard succeeded", target)
		}
		var blocked *BlockedError
		if !errors.As(err, &blocked) || blocked.Class != "loopback" {
			t.Fatalf("GET %s: %v, want a loopback refusal", target, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the server saw %d requests through the guard", hits)
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits != 1 {
		t.Fatal("the unguarded request did not arrive; the test proves nothing")
	}
}

func TestParseLegacyIPv4(t *testing.T) {
	for host, want := range map[string]string{
		"2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "0177.0.0.1": "127.0.0.1",
		"127.1": "127.0.0.1", "10.1.256": "10.1.1.0", "1.2.3.4": "1.2.3.4",
	} {
		if got, ok := parseLegacyIPv4(host); !ok || got.String() != want {
			t.Errorf("parseLegacyIPv4(%q) = %v, %v; want %s", host, got, ok, want)
		}
	}
	for _, host := range []string{"example.com", "1.2.3.4.5", "256.1.1.1", "4294967296", "1..2", "1_0", "", "0x"} {
		if got, ok := parseLegacyIPv4(host); ok {
			t.Errorf("parseLegacyIPv4(%q) = %v, want not an address", host, got)
		}
	}
}

// TestTransportReachesItsConfiguredProxy: an egress proxy usually sits on
// a private address; the guard lets the transport connect to the proxy it
// was configured with (the proxy then resolves and reaches the target).
func TestTransportReachesItsConfiguredProxy(t *testing.T) {
	var proxied []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied = append(proxied, r.URL.String())
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	base := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
	client := &http.Client{Transport: Transport(base)}
	resp, err := client.Get("http://provider.example/token")
	if err != nil {
		t.Fatalf("GET through the proxy: %v", err)
	}
	resp.Body.Close()
	if len(proxied) != 1 || proxied[0] != "http://provider.example/token" {
		t.Fatalf("the proxy saw %q", proxied)
	}
}
