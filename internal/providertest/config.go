package providertest

import (
	"github.com/authengine/authengine/config"
)

// Config returns a config.Provider, with every default spelled out, that
// points at this stand-in: the client credentials and auth method it
// demands, PKCE when required, the request body type it accepts, and a
// response_map for the quirks that need one (nested token fields). The
// provider is enabled, uses the authorization-code grant, requests scopes
// as "<<scopes>> <<existing_scopes>>" joined by the scope delimiter, has a
// refresh request and a user-info request fetched on grant.
func (p *Provider) Config(id string) config.Provider {
	q := p.opts.Quirks
	enabled := true
	authorizeParams := map[string]string{
		"response_type": "code",
		"client_id":     "<<client_id>>",
		"redirect_uri":  "<<redirect_uri>>",
		"scope":         "<<scopes>>" + q.ScopeDelimiter + "<<existing_scopes>>",
	}
	token := p.tokenRequest(map[string]string{
		"grant_type":   "authorization_code",
		"redirect_uri": "<<redirect_uri>>",
	})
	refresh := p.tokenRequest(map[string]string{
		"grant_type":    "refresh_token",
		"refresh_token": "<<refresh_token>>",
	})
	return config.Provider{
		ID:           id,
		Description:  "providertest stand-in at " + p.srv.URL,
		Enabled:      &enabled,
		Type:         "oauth2",
		ClientID:     p.opts.ClientID,
		ClientSecret: p.opts.ClientSecret,
		OAuth2: config.OAuth2{
			GrantType:      "authorization_code",
			ScopeDelimiter: q.ScopeDelimiter,
			PKCE:           config.PKCE{Enabled: p.opts.RequirePKCE, CodeChallengeMethod: "S256"},
			AuthorizeRequest: &config.Request{
				Endpoint:            p.AuthorizeEndpoint(),
				Method:              "GET",
				Params:              authorizeParams,
				AuthMethod:          "none",
				RequestContentType:  "application/x-www-form-urlencoded",
				ResponseContentType: "application/json",
			},
			TokenRequest:        token,
			RefreshTokenRequest: refresh,
			UserInfoRequest: &config.Request{
				Endpoint:            p.UserInfoEndpoint(),
				Method:              "GET",
				AuthMethod:          "bearer_access_token",
				RequestContentType:  "application/x-www-form-urlencoded",
				ResponseContentType: "application/json",
				Triggers:            config.Triggers{OnTokenGrant: true},
			},
		},
	}
}

// ClientCredentialsConfig returns a config.Provider for the
// client-credentials grant against this stand-in: a token request only,
// with scopes sent as the scope param.
func (p *Provider) ClientCredentialsConfig(id string) config.Provider {
	c := p.Config(id)
	c.OAuth2.GrantType = "client_credentials"
	c.OAuth2.PKCE = config.PKCE{}
	c.OAuth2.AuthorizeRequest = nil
	c.OAuth2.RefreshTokenRequest = nil
	c.OAuth2.UserInfoRequest = nil
	c.OAuth2.TokenRequest = p.tokenRequest(map[string]string{
		"grant_type": "client_credentials",
		"scope":      "<<scopes>>",
	})
	return c
}

// IDTokenConfig returns Config with the user info taken from the
// id_token (oauth2.user_info_from: id_token): the stand-in's issuer, no
// user-info request and openid as the default scope. The stand-in must be
// an OpenID Connect one (Options.OIDC), and the provider goes through
// discovery (authflow/discovery) like any issuer provider.
func (p *Provider) IDTokenConfig(id string) config.Provider {
	c := p.Config(id)
	c.OAuth2.Issuer = p.Issuer()
	c.OAuth2.UserInfoFrom = config.UserInfoFromIDToken
	c.OAuth2.UserInfoRequest = nil
	c.OAuth2.DefaultScopes = []string{"openid"}
	return c
}

// tokenRequest is a token-endpoint request block with params, in the
// auth method, body type and response shape of the stand-in.
func (p *Provider) tokenRequest(params map[string]string) *config.Request {
	q := p.opts.Quirks
	r := &config.Request{
		Endpoint:            p.TokenEndpoint(),
		Method:              "POST",
		Params:              params,
		AuthMethod:          p.opts.ClientAuth,
		RequestContentType:  "application/x-www-form-urlencoded",
		ResponseContentType: "application/json",
	}
	if p.opts.ClientAuth == ClientAuthNone {
		params["client_id"] = "<<client_id>>"
	}
	if q.JSONRequestBody {
		r.RequestContentType = "application/json"
	}
	if q.FormEncoded {
		r.ResponseContentType = "application/x-www-form-urlencoded"
	}
	if q.NestUnder != "" {
		at := "$." + q.NestUnder + "."
		r.ResponseMap = map[string]string{
			"access_token":  at + "access_token",
			"expires_in":    at + "expires_in",
			"refresh_token": at + "refresh_token",
			"token_type":    at + "token_type",
			"scope":         at + "scope",
		}
		if q.ArrayScopes {
			r.ResponseMap["scope"] = "join('" + at + "scope', '" + q.ScopeDelimiter + "')"
		}
	}
	return r
}
