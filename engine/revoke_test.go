package engine

import (
	"context"
	"testing"

	"github.com/authengine/authengine/engine/events"
)

func TestDeleteRevokesTheTokenAtTheProvider(t *testing.T) {
	for _, tc := range []struct {
		name    string
		revoke  bool
		fail    bool
		outcome string
	}{
		{"revocation configured: the grant is revoked", true, false, "revoked"},
		{"revocation refused: the connection is deleted anyway", true, true, "failed"},
		{"no revocation_request: nothing is sent", false, false, "not_configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{revoke: tc.revoke, events: []string{events.ConnectionDisconnected}})
			id := r.connect("ada")
			ts := r.storedToken(id)
			if tc.fail {
				r.idp.FailRevocations(1, 503, "temporarily_unavailable")
			}
			if err := r.eng.Disconnect(context.Background(), id); err != nil {
				t.Fatalf("Disconnect: %v", err)
			}
			if _, err := r.st.GetConnection(context.Background(), id); err == nil {
				t.Error("the connection is still stored")
			}
			wantRevoked := tc.outcome == "revoked"
			if n := r.idp.Counts().Revocations; n != map[bool]int{true: 1, false: 0}[wantRevoked] {
				t.Errorf("stand-in revocations = %d", n)
			}
			if r.idp.ValidRefreshToken(ts.RefreshToken) == wantRevoked {
				t.Errorf("refresh token valid at the provider = %v, want %v", !wantRevoked, !wantRevoked)
			}
			if r.idp.ValidAccessToken(ts.AccessToken) == wantRevoked {
				t.Errorf("access token valid at the provider = %v, want %v", !wantRevoked, !wantRevoked)
			}
			got := r.outbox(events.ConnectionDisconnected)
			if len(got) != 1 || got[0].Data.Revocation == nil || got[0].Data.Revocation.Outcome != tc.outcome {
				t.Fatalf("connection.disconnected = %+v, want revocation outcome %s", got, tc.outcome)
			}
			if tc.fail && got[0].Data.Revocation.Reason == "" {
				t.Error("a failed revocation carries no reason")
			}
			if v := r.idp.Violations(); len(v) != 0 {
				t.Errorf("stand-in violations: %v", v)
			}
		})
	}
}
