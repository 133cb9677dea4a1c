// Package store is the contract between the engine and its token-state
// backends: the record types, the Store interface and the sentinel errors.
// It imports nothing of ours; backends (engine/store/bolt,
// engine/store/redis) import only this package, and every backend passes
// the conformance suite in engine/store/storetest.
//
// Secrets never reach a backend in the clear: the engine seals them
// (engine/seal) into the Sealed fields before a record is written. The other
// fields are index data the backend needs to find, expire and list records.
//
// Expiry is logical: a record's ExpiresAt is compared with the backend's
// injected clock, and a record past it reads as ErrNotFound. Backend TTLs
// (Redis EXPIRE, bolt sweeps) only collect garbage.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Sentinel errors. Backends return them (possibly wrapped with %w); callers
// test with errors.Is.
var (
	// ErrNotFound: no such record, or it has expired.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a create met an existing record, or a compare-and-swap
	// lost too many races in a row.
	ErrConflict = errors.New("store: conflict")
	// ErrLockHeld: another owner holds the lock.
	ErrLockHeld = errors.New("store: lock held")
	// ErrLockLost: Renew found the lease expired or owned by someone else.
	ErrLockLost = errors.New("store: lock lost")
	// ErrUnavailable: the backend could not be reached. Retryable; nothing
	// was written.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrUnsupported: the backend does not offer an optional operation
	// (see ConnectionCounter) in its current deployment; the caller falls
	// back to the general one.
	ErrUnsupported = errors.New("store: not supported by this backend here")
)

// FlowStatus is the state of an authorization flow.
type FlowStatus string

// Flow statuses. A flow starts pending; the callback moves it to completed
// or failed (or to verifying when user verification is on, then to
// completed or failed on confirm_user).
const (
	FlowPending   FlowStatus = "pending"
	FlowVerifying FlowStatus = "verifying"
	FlowCompleted FlowStatus = "completed"
	FlowFailed    FlowStatus = "failed"
)

// Flow is one authorization-code flow in progress (or recently ended).
type Flow struct {
	ID string
	// StateHash is the hex SHA-256 of the state parameter sent to the
	// provider (see HashState). The raw state is never stored.
	StateHash  string
	UserID     string
	ProviderID string
	// Scopes requested from the provider (already merged and de-duplicated).
	Scopes  []string
	NextURI string
	Status  FlowStatus
	// Error is the client-safe reason of a failed flow.
	Error string
	// ConnectionID is set when the flow completed and its token was stored.
	ConnectionID string
	// Sealed holds the flow's secrets (the PKCE verifier), sealed.
	Sealed    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
	// ErrorKind names why a failed flow failed, from a fixed set
	// (scope_not_granted, access_denied, token_exchange, ...).
	ErrorKind string
	// MissingScopes are the requested scopes the provider did not grant
	// (ErrorKind scope_not_granted).
	MissingScopes []string
	// Account is the label of the user's account at the provider the flow
	// connects; empty for the user's default account.
	Account string
}

// ConnectionStatus is the state of a user's connection to a provider.
type ConnectionStatus string

// Connection statuses. Only a connected connection holds a usable token;
// the others hold none and need a new authorization (docs/lifecycle.md).
const (
	// ConnectionConnected: the token is usable (refreshed when needed).
	ConnectionConnected ConnectionStatus = "connected"
	// ConnectionNeedsReauth: the provider refused the refresh token
	// (invalid_grant, unauthorized_client).
	ConnectionNeedsReauth ConnectionStatus = "needs_reauth"
	// ConnectionExpired: the access token expired and there is no way to
	// refresh it (no refresh token, or the provider has no refresh).
	ConnectionExpired ConnectionStatus = "expired"
	// ConnectionRevoked: the provider said the grant was revoked.
	ConnectionRevoked ConnectionStatus = "revoked"
)

// ConnectionStatuses lists every connection status.
var ConnectionStatuses = []ConnectionStatus{ConnectionConnected, ConnectionNeedsReauth, ConnectionExpired, ConnectionRevoked}

// Connection is the token state of one (user, provider) pair. A
// client-credentials provider's service token is a Connection with an empty
// UserID, one per distinct set of scopes.
type Connection struct {
	// ID is IDOf(the connection): ConnectionID(ProviderID, UserID), or for
	// a service token ServiceConnectionID(ProviderID, Scopes).
	ID         string
	UserID     string
	ProviderID string
	Status     ConnectionStatus
	// Scopes granted by the provider.
	Scopes []string
	// ExpiresAt is the access token's expiry; zero means it does not expire.
	ExpiresAt time.Time
	// Sealed holds the token set (access, refresh, id token, token type,
	// user info, extra fields), sealed.
	Sealed    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version is set by the store: 1 on create, +1 on each update. Callers
	// never set it.
	Version uint64
	// DeclinedScopes are scopes an authorization asked for and the
	// provider did not grant (the user unticked them); a later
	// authorization asking for them again says so.
	DeclinedScopes []string
	// Account labels one of several accounts a user holds at one provider;
	// empty is the user's default account (see AccountConnectionID).
	Account string
}

// ProviderRecord is an auth provider added at run time through the admin
// API. Its configuration (which holds the client secret) is sealed.
type ProviderRecord struct {
	ID        string
	Sealed    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConnectionFilter narrows ListConnections; empty fields match everything.
type ConnectionFilter struct {
	UserID     string
	ProviderID string
	// Status matches connections in that status.
	Status ConnectionStatus
	// Account matches connections of that account label.
	Account string
}

// Match reports whether c passes the filter.
func (f ConnectionFilter) Match(c Connection) bool {
	return (f.UserID == "" || c.UserID == f.UserID) &&
		(f.ProviderID == "" || c.ProviderID == f.ProviderID) &&
		(f.Status == "" || c.Status == f.Status) &&
		(f.Account == "" || c.Account == f.Account)
}

// Empty reports whether the filter matches every connection.
func (f ConnectionFilter) Empty() bool { return f == ConnectionFilter{} }

// ConnectionID derives the stable id of a (provider, user) connection. It
// is deterministic so that lookups need no secondary index.
func ConnectionID(providerID, userID string) string {
	sum := sha256.Sum256([]byte(providerID + "\x00" + userID))
	return hex.EncodeToString(sum[:16])
}

// AccountConnectionID derives the id of one of a user's accounts at a
// provider. The default account (empty label) has ConnectionID's id, so
// connections stored before accounts existed keep theirs.
func AccountConnectionID(providerID, userID, account string) string {
	if account == "" {
		return ConnectionID(providerID, userID)
	}
	return ConnectionID(providerID, userID+"\x00account\x00"+account)
}

// ServiceConnectionID derives the id of a client-credentials provider's
// service token for one set of scopes; order and repeats do not matter.
// Each scope set has a token of its own, so a token is never widened
// because another caller asked for more.
func ServiceConnectionID(providerID string, scopes []string) string {
	set := slices.Compact(slices.Sorted(slices.Values(scopes)))
	return ConnectionID(providerID, "\x00service\x00"+strings.Join(set, " "))
}

// IDOf returns the id a connection record must have: AccountConnectionID
// for a user's connection, ServiceConnectionID of its scopes for a service token
// (empty UserID).
func IDOf(c Connection) string {
	if c.UserID == "" {
		return ServiceConnectionID(c.ProviderID, c.Scopes)
	}
	return AccountConnectionID(c.ProviderID, c.UserID, c.Account)
}

// ValidID reports whether c carries the id IDOf(c) gives it, or, for a
// service token stored before service tokens had one record per scope set,
// ConnectionID(ProviderID, "") (such a record may still be rewritten: a
// reseal, a status change). Backends refuse to write any other.
func ValidID(c Connection) bool {
	return c.ID == IDOf(c) || c.UserID == "" && c.ID == ConnectionID(c.ProviderID, "")
}

// HashState returns the hex SHA-256 of a flow's state parameter.
func HashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// FlowStore keeps authorization flows.
type FlowStore interface {
	// CreateFlow stores a new flow and indexes its StateHash. ErrConflict
	// if the ID or the StateHash is taken.
	CreateFlow(ctx context.Context, f Flow) error
	// GetFlow returns a flow; ErrNotFound when missing or expired.
	GetFlow(ctx context.Context, id string) (Flow, error)
	// ConsumeState atomically removes the state index and returns its
	// flow. Of any number of concurrent calls for one state, exactly one
	// succeeds; the others (and all later calls) get ErrNotFound. An
	// expired flow's state cannot be consumed.
	ConsumeState(ctx context.Context, stateHash string) (Flow, error)
	// UpdateFlow is compare-and-swap: it reads the flow, calls fn, and
	// writes fn's result only if the flow did not change meanwhile
	// (retrying fn otherwise). An error from fn aborts and is returned
	// unchanged. ErrNotFound when missing or expired. ID and StateHash
	// cannot be changed.
	UpdateFlow(ctx context.Context, id string, fn func(Flow) (Flow, error)) (Flow, error)
}

// ConnectionStore keeps token state.
type ConnectionStore interface {
	// GetConnection returns a connection; ErrNotFound when missing.
	GetConnection(ctx context.Context, id string) (Connection, error)
	// UpdateConnection is compare-and-swap create-or-update: fn receives
	// the current record and whether it exists, and its result is written
	// only if nothing changed meanwhile (fn is retried otherwise). An error
	// from fn aborts and is returned unchanged. The store sets Version and
	// UpdatedAt (and CreatedAt on create); the ID must equal id and pass
	// ValidID.
	UpdateConnection(ctx context.Context, id string, fn func(c Connection, exists bool) (Connection, error)) (Connection, error)
	// DeleteConnection removes a connection; ErrNotFound when missing.
	DeleteConnection(ctx context.Context, id string) error
	// ListConnections returns matching connections ordered by ID, the
	// page [offset, offset+limit), and the total number of matches.
	ListConnections(ctx context.Context, filter ConnectionFilter, offset, limit int) ([]Connection, int, error)
}

// CountKey is what ConnectionCounts counts by: a provider, a status,
// and whether the connections are service tokens (empty UserID) or users'.
type CountKey struct {
	ProviderID string
	Status     ConnectionStatus
	Service    bool
}

// CountKeyOf is the CountKey connection c counts under.
func CountKeyOf(c Connection) CountKey {
	return CountKey{ProviderID: c.ProviderID, Status: c.Status, Service: c.UserID == ""}
}

// String encodes k as one string: provider NUL status NUL "u" (users) or
// "s" (service tokens). Backends key their counts by it.
func (k CountKey) String() string {
	kind := "u"
	if k.Service {
		kind = "s"
	}
	return k.ProviderID + "\x00" + string(k.Status) + "\x00" + kind
}

// ParseCountKey reverses CountKey.String.
func ParseCountKey(s string) (CountKey, bool) {
	i := strings.LastIndexByte(s, 0)
	if i < 0 || s[i+1:] != "u" && s[i+1:] != "s" {
		return CountKey{}, false
	}
	j := strings.LastIndexByte(s[:i], 0)
	if j < 0 {
		return CountKey{}, false
	}
	return CountKey{ProviderID: s[:j], Status: ConnectionStatus(s[j+1 : i]), Service: s[i+1:] == "s"}, true
}

// ConnectionCounts is how many connections there are under each CountKey;
// keys without a connection are absent (never a zero entry).
type ConnectionCounts map[CountKey]int

// Add adds n to the count of k, dropping it when it reaches zero.
func (c ConnectionCounts) Add(k CountKey, n int) {
	if c[k] += n; c[k] == 0 {
		delete(c, k)
	}
}

// Differing returns the keys whose count in c differs from want's, in
// the order of their String (for stable reports).
func (c ConnectionCounts) Differing(want ConnectionCounts) []CountKey {
	var out []CountKey
	for k, n := range c {
		if want[k] != n {
			out = append(out, k)
		}
	}
	for k, n := range want {
		if _, ok := c[k]; !ok && n != 0 {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b CountKey) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// CountProblem is a store check's report of a kept count that differs
// from the records' (names a provider and a status, never content).
func CountProblem(k CountKey, kept, records int) string {
	return fmt.Sprintf("connection counts: provider %q, status %q, service %t: kept %d, records %d", k.ProviderID, k.Status, k.Service, kept, records)
}

// ConnectionCounter is implemented by a backend that keeps connection
// counts and filtered-listing indexes up to date with every connection
// write, so that counting connections, and listing them by provider or
// status, does not read every connection record.
//
// ConnectionCounts returns the counts of every connection (user
// connections and service tokens apart) by provider and status. They are
// exact:
// a backend changes them in the same transaction as the connection write
// (create, status change, delete) that moves them, and builds them from
// the stored connections the first time it runs on data written before it
// kept counts. A backend that cannot keep them exact in some deployment
// (Redis Cluster, whose transactions cannot span the connection's slot and
// the counts') answers ErrUnsupported there, and the caller counts from
// ListConnections instead.
//
// A backend implementing it also answers ListConnections filtered by
// ProviderID and/or Status from its indexes: the cost is the page read,
// not every record.
type ConnectionCounter interface {
	ConnectionCounts(ctx context.Context) (ConnectionCounts, error)
}

// CountsChecker is an optional interface of a Store that keeps connection
// counts and listing indexes in a shared server (Redis): `authengine store
// check` asks it to compare them with the records. Each problem names a
// provider, a status and a connection id at most, never a record's
// content. An error that is ErrUnsupported says there is nothing to
// compare (none are kept, or none built yet), and why. (The embedded
// store's are compared by bolt.Check, with the file.)
type CountsChecker interface {
	CheckCounts(ctx context.Context) (problems []string, err error)
}

// ProviderStore keeps providers added through the admin API.
type ProviderStore interface {
	// CreateProvider stores a new record; ErrConflict if the ID exists.
	CreateProvider(ctx context.Context, p ProviderRecord) error
	// PutProvider replaces an existing record; ErrNotFound when missing.
	PutProvider(ctx context.Context, p ProviderRecord) error
	// UpdateProvider replaces record p.ID only if its Sealed is still old
	// (compare-and-swap): ErrConflict when another write came first,
	// ErrNotFound when missing. CreatedAt is kept.
	UpdateProvider(ctx context.Context, p ProviderRecord, old []byte) error
	GetProvider(ctx context.Context, id string) (ProviderRecord, error)
	// ListProviders returns every record ordered by ID.
	ListProviders(ctx context.Context) ([]ProviderRecord, error)
	DeleteProvider(ctx context.Context, id string) error
}

// Locker gives out leases shared by every engine using the same store.
type Locker interface {
	// Lock takes the named lock for ttl and returns an owner token, or
	// ErrLockHeld when someone else holds an unexpired lease. The lease
	// ends by itself after ttl, so a crashed holder blocks no one for
	// longer than that.
	Lock(ctx context.Context, name string, ttl time.Duration) (token string, err error)
	// Unlock releases the lock only if token still owns it
	// (compare-and-delete); releasing a lost or expired lease is a no-op.
	Unlock(ctx context.Context, name, token string) error
	// Renew extends the lease to ttl from now only if token still owns it
	// (compare-and-extend); ErrLockLost when it expired or another owner
	// took it. An owner that keeps renewing a short lease holds the lock
	// as long as it lives, and a crashed owner blocks others no longer
	// than one ttl.
	Renew(ctx context.Context, name, token string, ttl time.Duration) error
}

// Notifier carries "this flow may have changed" signals between engine
// instances sharing a store, so waiters never poll.
type Notifier interface {
	// Notify signals every subscriber of flowID, on every instance.
	Notify(ctx context.Context, flowID string) error
	// Subscribe calls signal whenever flowID may have changed, including
	// after the backend recovers a lost subscription (the subscriber must
	// then re-read the flow). signal is called on the store's goroutines,
	// possibly several at once, with the store's locks held: it must
	// return at once and never call back into the store (cancel
	// included). A held wait is then a callback, not a goroutine blocked
	// on a channel. cancel releases the subscription; no call to signal
	// starts after it returns. A backend that must confirm a subscription
	// before it can promise delivery waits for the confirmation at most
	// until ctx ends (the subscription is still made and delivers once
	// confirmed).
	Subscribe(ctx context.Context, flowID string, signal func()) (cancel func())
}

// SubscribeChan is n.Subscribe delivering to a channel, buffered 1 and
// never closed: a signal that arrives while one is pending is dropped,
// since both mean "re-read the flow".
func SubscribeChan(ctx context.Context, n Notifier, flowID string) (signals <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	cancel = n.Subscribe(ctx, flowID, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	return ch, cancel
}

// ConnectionFeed is an optional interface of a Store: it announces every
// connection write to every engine sharing the store, so that an engine can
// keep opened connections in memory and drop one the moment any instance
// changes it (the engine's connection cache). Both backends implement it.
type ConnectionFeed interface {
	// WatchConnections calls changed with the id of every connection
	// written through the store by any engine sharing it (created,
	// updated, deleted, with or without events), after the write is
	// readable: a GetConnection made once changed(id) was called returns
	// that write or a later one. up reports the feed's health, first
	// with its state at the time of the call (before WatchConnections
	// returns), then on every change. While the feed is down,
	// announcements may be lost; after up(true) following a down, the
	// watcher must forget what it learnt before (writes made while the
	// feed was down were not announced). Calls to changed and up are
	// made one at a time per store and must not block or call back into
	// the store. cancel stops the calls; none is made after it returns.
	WatchConnections(changed func(id string), up func(bool)) (cancel func())
}

// DataKey is a data key of envelope encryption (engine/keyring): records
// are sealed with data keys, and each data key is stored wrapped (sealed)
// by a root key. Rotating the root key rewraps data keys; the records they
// sealed are not rewritten.
type DataKey struct {
	ID string
	// RootKeyID names the root key that wraps the data key.
	RootKeyID string
	// Wrapped is the data key sealed by that root key.
	Wrapped   []byte
	CreatedAt time.Time
}

// DataKeyStore keeps wrapped data keys.
type DataKeyStore interface {
	// CreateDataKey stores a new data key; ErrConflict if the ID exists.
	CreateDataKey(ctx context.Context, k DataKey) error
	// GetDataKey returns a data key; ErrNotFound when missing.
	GetDataKey(ctx context.Context, id string) (DataKey, error)
	// ListDataKeys returns every data key ordered by ID.
	ListDataKeys(ctx context.Context) ([]DataKey, error)
	// RewrapDataKey replaces the RootKeyID and Wrapped of data key k.ID,
	// only if its Wrapped is still old (compare-and-swap): ErrConflict
	// when it changed, ErrNotFound when missing. CreatedAt is kept.
	RewrapDataKey(ctx context.Context, k DataKey, old []byte) error
}

// Store is everything a backend provides.
type Store interface {
	FlowStore
	ConnectionStore
	ProviderStore
	DataKeyStore
	DiscoveryStore
	Locker
	Notifier
	Scanner
	Outbox
	SessionStore
	AuditLog
	// Ping reports whether the backend answers; ErrUnavailable otherwise.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// Record kinds, as SealedRecord.Kind names them.
const (
	KindFlow       = "flow"
	KindConnection = "connection"
	KindProvider   = "provider"
	KindSession    = "session"
	KindDiscovery  = "discovery"
)

// SealedRecord is one stored record as Scan yields it: what it is and its
// sealed part, or why it could not be decoded.
type SealedRecord struct {
	// Kind is KindFlow, KindConnection, KindProvider, KindSession or
	// KindDiscovery.
	Kind string
	ID   string
	// Sealed is the record's sealed part (see Flow.Sealed and the others).
	Sealed []byte
	// Err is set when the record could not be decoded; Sealed is then
	// empty. It names the record, never its content.
	Err error
}

// Scanner walks every stored record: flows that have not expired,
// connections, runtime providers, discovery records and console sessions
// that have not expired. The key inventory taken at start and
// `authengine store check` use it. fn's error stops the scan and is
// returned unchanged; a record that cannot be decoded is passed to fn with
// Err set, and the scan goes on.
type Scanner interface {
	Scan(ctx context.Context, fn func(SealedRecord) error) error
}

// --- outbox ---

// EventStatus is the delivery state of an outbox event.
type EventStatus string

// Event statuses. An event is pending until it is delivered (then it is
// deleted) or its attempts run out (then it is failed and kept until an
// operator replays it, which makes it pending again).
const (
	EventPending EventStatus = "pending"
	EventFailed  EventStatus = "failed"
)

// Event is one lifecycle event in the durable outbox (engine/events owns
// its types and payloads, and delivers it). It holds no secret: Payload is
// the JSON document sent to webhooks.
type Event struct {
	// ID is unique and sortable by creation (NewEventID).
	ID string
	// Key is the id of the record the event is about (a connection or a
	// flow). A backend may keep the event beside that record, so it can be
	// written in the same transaction as the record's change.
	Key     string
	Type    string
	Payload []byte
	Status  EventStatus
	// Attempts counts delivery attempts so far.
	Attempts int
	// NextAttemptAt is when a pending event is next due.
	NextAttemptAt time.Time
	// LastError is the client-safe reason of the last failed attempt.
	LastError string
	// Done names the destinations that already took the event (the
	// deliverer names them), so a retry skips them.
	Done      []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Outbox keeps lifecycle events until they are delivered. The engine
// writes an event in the same transaction as the state change it reports
// (UpdateConnectionEvents, DeleteConnectionEvents, UpdateFlowEvents), so a
// crash can never keep one without the other; engine/events reads the due
// events and records each attempt's outcome.
type Outbox interface {
	// AppendEvents stores events that report no state change of their own
	// (a refresh that failed and changed nothing). ErrConflict if an ID
	// is taken.
	AppendEvents(ctx context.Context, events ...Event) error
	// UpdateConnectionEvents is UpdateConnection that also stores events,
	// atomically with the connection's write: both or neither (an error
	// from fn stores neither).
	UpdateConnectionEvents(ctx context.Context, id string, events []Event, fn func(c Connection, exists bool) (Connection, error)) (Connection, error)
	// DeleteConnectionEvents is DeleteConnection that also stores events,
	// atomically with the delete; a missing connection is ErrNotFound and
	// stores nothing.
	DeleteConnectionEvents(ctx context.Context, id string, events []Event) error
	// UpdateFlowEvents is UpdateFlow that also stores events, atomically
	// with the flow's write.
	UpdateFlowEvents(ctx context.Context, id string, events []Event, fn func(Flow) (Flow, error)) (Flow, error)
	// DueEvents returns up to limit pending events whose NextAttemptAt is
	// not after now, oldest ID first.
	DueEvents(ctx context.Context, now time.Time, limit int) ([]Event, error)
	// GetEvent returns an event; ErrNotFound when missing.
	GetEvent(ctx context.Context, id string) (Event, error)
	// UpdateEvent is compare-and-swap on an event (as UpdateFlow): fn's
	// result is written only if the event did not change meanwhile. ID,
	// Key, Type and Payload cannot change. ErrNotFound when missing.
	UpdateEvent(ctx context.Context, id string, fn func(Event) (Event, error)) (Event, error)
	// DeleteEvent removes a delivered event; ErrNotFound when missing.
	DeleteEvent(ctx context.Context, id string) error
	// ListEvents returns the events with the given status (every status
	// when empty) ordered by ID, the page [offset, offset+limit) and the
	// number of matches.
	ListEvents(ctx context.Context, status EventStatus, offset, limit int) ([]Event, int, error)
}

// NewEventID returns a fresh event id that sorts by creation time:
// "evt_", 16 hex digits of t in nanoseconds, and 16 random hex digits.
func NewEventID(t time.Time) string {
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("evt_%016x%s", uint64(t.UnixNano()), hex.EncodeToString(r[:]))
}

// CheckEvent reports what is wrong with an event about to be stored.
func CheckEvent(ev Event) error {
	switch {
	case ev.ID == "" || ev.Key == "" || ev.Type == "":
		return errors.New("store: event: ID, Key and Type are required")
	case strings.ContainsAny(ev.ID+ev.Key, "{}\x00/"):
		return errors.New("store: event: ID and Key must not contain '{', '}', '/' or NUL")
	case ev.Status != EventPending && ev.Status != EventFailed:
		return fmt.Errorf("store: event %s: unknown status %q", ev.ID, ev.Status)
	}
	return nil
}

// --- console sessions ---

// Session is one signed-in session of the operator console
// (engine/console). It is found by the hash of its cookie: the cookie's
// value is never stored, so a copy of the store gives no usable session.
type Session struct {
	// ID is the hex SHA-256 of the session cookie's value (HashState).
	ID string
	// Sealed holds the session's secrets (its CSRF token, who signed in,
	// its absolute expiry), sealed.
	Sealed    []byte
	CreatedAt time.Time
	// ExpiresAt is when the session ends unless it is used again (the
	// earlier of its idle and its absolute deadline). Expiry is logical:
	// a session past it reads as ErrNotFound.
	ExpiresAt time.Time
}

// SessionStore keeps console sessions, so that a session outlives an
// engine restart and works on every instance sharing the store.
type SessionStore interface {
	// CreateSession stores a new session; ErrConflict if the ID exists.
	CreateSession(ctx context.Context, s Session) error
	// ReplaceSession rewrites an existing session (a new ExpiresAt, a
	// resealed Sealed); ErrNotFound when it is missing, so a session
	// deleted meanwhile (signed out) is never written back.
	ReplaceSession(ctx context.Context, s Session) error
	// GetSession returns a session; ErrNotFound when missing or expired.
	GetSession(ctx context.Context, id string) (Session, error)
	// DeleteSession removes a session; ErrNotFound when missing.
	DeleteSession(ctx context.Context, id string) error
}

// --- discovery ---

// DiscoveryRecord is what the engine learnt from a remote server and keeps
// across restarts: an authorization server's metadata document, an MCP
// server's protected-resource metadata, or a client registration made with
// an authorization server (whose client secret makes sealing necessary).
// Its content is sealed whatever it holds.
type DiscoveryRecord struct {
	// ID names what the record holds ("issuer:<hash>", "mcp:<provider id>").
	ID        string
	Sealed    []byte
	UpdatedAt time.Time
}

// DiscoveryStore keeps discovery records.
type DiscoveryStore interface {
	// PutDiscovery creates or replaces record r.ID.
	PutDiscovery(ctx context.Context, r DiscoveryRecord) error
	// GetDiscovery returns a record; ErrNotFound when missing.
	GetDiscovery(ctx context.Context, id string) (DiscoveryRecord, error)
	// DeleteDiscovery removes a record; ErrNotFound when missing.
	DeleteDiscovery(ctx context.Context, id string) error
}

// --- audit log ---

// AuditEntry is one persisted audit record: who changed what, when, and
// which field paths changed — never a value, so never a secret.
type AuditEntry struct {
	// ID is unique and sorts by Time (NewAuditID).
	ID   string
	Time time.Time
	// Actor is a key fingerprint (admin_key:3f2a9c1b04de), "engine" for a
	// lifecycle change the engine made, or "unknown".
	Actor string
	// Action is what was done (provider.update, connection.delete,
	// connection.needs_reauth, ...).
	Action string
	// Target is the id of the provider, connection or event.
	Target string
	// Changed lists the field paths that changed, sorted.
	Changed []string
	// SecretReentered reports that the change carried a client secret.
	SecretReentered bool
}

// AuditFilter narrows ListAudit; empty fields match everything.
type AuditFilter struct {
	Actor  string
	Action string
	Target string
	// Since and Until bound Time: Since <= Time < Until (zero: unbounded).
	Since, Until time.Time
}

// AuditLog keeps audit entries until they are pruned.
type AuditLog interface {
	// AppendAudit stores an entry.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns matching entries newest first, the page
	// [offset, offset+limit) and the number of matches.
	ListAudit(ctx context.Context, filter AuditFilter, offset, limit int) ([]AuditEntry, int, error)
	// PruneAudit removes the entries older than before and returns how
	// many it removed.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
}

// NewAuditID returns a fresh audit entry id that sorts by t: "aud_", 16
// hex digits of t in nanoseconds and 16 random hex digits.
func NewAuditID(t time.Time) string {
	return "aud_" + strings.TrimPrefix(NewEventID(t), "evt_")
}

// Matches reports whether e passes the filter.
func (f AuditFilter) Matches(e AuditEntry) bool {
	return (f.Actor == "" || e.Actor == f.Actor) && (f.Action == "" || e.Action == f.Action) &&
		(f.Target == "" || e.Target == f.Target) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || e.Time.Before(f.Until))
}
