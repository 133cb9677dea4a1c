package catalog

// Family is one kind of deviation from RFC 6749 that templates of the
// catalog carry, with the templates that carry it. Each family is run end
// to end, with those templates, against the strict stand-in provider by
// the engine's test named FamilyTest (a subtest per family key).
type Family struct {
	Key     string   // the subtest name
	Name    string   // what the providers do
	Entries []string // catalog ids carrying it
}

// FamilyTest is the test that runs every Family end to end.
const FamilyTest = "TestQuirkFamiliesEndToEnd"

// Families lists the quirk families of the catalog.
var Families = []Family{
	{"nested-token", "token nested in the response (Slack `authed_user`), errors as HTTP 200, refresh answered top-level", []string{"slack"}},
	{"comma-scopes", "comma-delimited scopes", []string{"github", "linear", "strava", "pinterest"}},
	{"form-encoded-response", "form-encoded token responses", []string{"github"}},
	{"json-request-body", "JSON token request bodies", []string{"notion", "atlassian", "freshbooks"}},
	{"basic-only-client-auth", "HTTP Basic client authentication only", []string{"reddit", "spotify", "x", "zoom", "xero"}},
	{"rotating-refresh-tokens", "rotating (single-use) refresh tokens", []string{"atlassian", "gitlab", "box", "xero", "quickbooks", "fitbit"}},
	{"no-refresh-long-lived", "no refresh token, long-lived access tokens", []string{"linkedin", "facebook", "vimeo"}},
	{"string-expires-in", "`expires_in` as a string", []string{"microsoft", "paypal"}},
	{"extra-authorize-params", "extra authorize parameters (`access_type=offline`, `prompt=consent`, `audience`, `token_access_type`)", []string{"google", "atlassian", "dropbox", "zoho"}},
	{"pkce-required", "PKCE (S256) required", []string{"x", "airtable", "canva"}},
	{"id-token-claims", "id_token claims as user info (verified against the issuer's keys, with a nonce)", []string{"line"}},
	{"captured-metadata", "metadata from the redirect query (QuickBooks `realmId`) and the token response (Salesforce `instance_url`), kept across refreshes", []string{"quickbooks", "salesforce"}},
}
