package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestInspectTokenShowsFieldsNeverSecrets: InspectToken names the mapped
// fields of a connection's token with each secret reduced to its last 4
// characters, and an unknown connection is ErrConnectionNotFound.
func TestInspectTokenShowsFieldsNeverSecrets(t *testing.T) {
	r := newRig(t, rigOptions{})
	id := r.connect("ada")
	ts := r.storedToken(id)
	v, err := r.eng.InspectToken(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]string{
		"access_token": {v.AccessToken, ts.AccessToken}, "refresh_token": {v.RefreshToken, ts.RefreshToken},
	} {
		shown, whole := pair[0], pair[1]
		if whole == "" || shown != "****"+whole[len(whole)-4:] || strings.Contains(shown, whole[:len(whole)-4]) {
			t.Errorf("%s shown as %q, want **** and its last 4 characters", name, shown)
		}
	}
	if v.TokenType != "Bearer" || !v.Expiry.Equal(ts.Expiry) || v.IDToken != "" || v.UserInfo["sub"] != "providertest-user" {
		t.Errorf("view %+v does not match the stored token (type %q, expiry %v)", v, ts.TokenType, ts.Expiry)
	}
	if _, err := r.eng.InspectToken(context.Background(), "nope"); !errors.Is(err, ErrConnectionNotFound) {
		t.Errorf("unknown connection: %v, want ErrConnectionNotFound", err)
	}
}
