package engine

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// TokenView is the token a connection holds as the engine mapped it from
// the provider's answers, for an operator proving a provider's
// configuration (`authengine try`): which token fields were found, each
// secret reduced to a SecretHint ("****wxyz"), with the metadata and user
// info an app would get in its context.
type TokenView struct {
	// AccessToken, RefreshToken and IDToken are SecretHints; "" when the
	// provider's answer held none (as mapped by the response_map).
	AccessToken  string
	RefreshToken string
	IDToken      string
	TokenType    string
	// Expiry is when the access token expires; zero when the answer gave
	// no expires_in.
	Expiry time.Time
	// Extra holds the response_map keys beyond the standard ones, as apps
	// get them in context.metadata.
	Extra map[string]any
	// UserInfo is what the user-info request returned, when it ran.
	UserInfo map[string]any
}

// InspectToken describes the token connection id holds (see TokenView).
// It never returns a secret whole.
func (e *Engine) InspectToken(ctx context.Context, id string) (TokenView, error) {
	conn, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return TokenView{}, ErrConnectionNotFound
	}
	if err != nil {
		return TokenView{}, storeErr("read connection", err)
	}
	ts, err := e.openToken(conn)
	if err != nil {
		return TokenView{}, err
	}
	return TokenView{
		AccessToken:  SecretHint(ts.AccessToken),
		RefreshToken: SecretHint(ts.RefreshToken),
		IDToken:      SecretHint(ts.IDToken),
		TokenType:    ts.TokenType,
		Expiry:       ts.Expiry,
		Extra:        maps.Clone(ts.Extra),
		UserInfo:     maps.Clone(ts.UserInfo),
	}, nil
}
