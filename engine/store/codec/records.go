package codec

import (
	"encoding/binary"

	"github.com/authengine/authengine/engine/store"
)

// The field order of each kind is part of the format: change it only
// under a new FormatVersion.

var (
	flowStrings      = []string{"id", "state_hash", "user_id", "provider_id", "next_uri", "status", "error", "connection_id", "error_kind", "account"}
	flowLists        = []string{"scopes", "missing_scopes"}
	connStrings      = []string{"id", "user_id", "provider_id", "status", "account"}
	connLists        = []string{"scopes", "declined_scopes"}
	idString         = []string{"id"}
	dataKeyStrings   = []string{"id", "root_key_id"}
	eventStrings     = []string{"id", "key", "type", "status", "last_error"}
	eventLists       = []string{"done"}
	auditStrings     = []string{"id", "actor", "action", "target"}
	auditLists       = []string{"changed"}
	noNames          = []string(nil)
	noLists          = []*[]string(nil)
	noListValues     = [][]string(nil)
	connectionFields = 3*timeLen + 10
)

// EncodeFlow returns the stored form of f.
func EncodeFlow(f store.Flow) []byte {
	b := header(kindFlow,
		[]string{f.ID, f.StateHash, f.UserID, f.ProviderID, f.NextURI, string(f.Status), f.Error, f.ConnectionID, f.ErrorKind, f.Account},
		[][]string{f.Scopes, f.MissingScopes}, 3*timeLen+bytesLen(f.Sealed))
	b = appendTime(b, f.CreatedAt)
	b = appendTime(b, f.UpdatedAt)
	b = appendTime(b, f.ExpiresAt)
	return appendBytes(b, f.Sealed)
}

// DecodeFlow decodes a flow record (binary or JSON).
func DecodeFlow(b []byte) (store.Flow, error) {
	d, isJSON := open(b, kindFlow, false)
	if isJSON {
		return legacyFlow(b)
	}
	var f store.Flow
	var status string
	d.strings(flowStrings, []*string{&f.ID, &f.StateHash, &f.UserID, &f.ProviderID, &f.NextURI, &status, &f.Error, &f.ConnectionID, &f.ErrorKind, &f.Account},
		flowLists, []*[]string{&f.Scopes, &f.MissingScopes})
	f.Status = store.FlowStatus(status)
	f.CreatedAt = d.time("created_at")
	f.UpdatedAt = d.time("updated_at")
	f.ExpiresAt = d.time("expires_at")
	f.Sealed = d.bytes("sealed", false)
	if err := d.end(); err != nil {
		return store.Flow{}, err
	}
	return f, nil
}

// EncodeConnection returns the stored form of c.
func EncodeConnection(c store.Connection) []byte {
	b := header(kindConnection,
		[]string{c.ID, c.UserID, c.ProviderID, string(c.Status), c.Account},
		[][]string{c.Scopes, c.DeclinedScopes}, connectionFields+bytesLen(c.Sealed))
	b = binary.AppendUvarint(b, c.Version)
	b = appendTime(b, c.ExpiresAt)
	b = appendTime(b, c.CreatedAt)
	b = appendTime(b, c.UpdatedAt)
	return appendBytes(b, c.Sealed)
}

// DecodeConnection decodes a connection record (binary or JSON).
func DecodeConnection(b []byte) (store.Connection, error) {
	return decodeConnection(b, false)
}

func decodeConnection(b []byte, borrow bool) (store.Connection, error) {
	d, isJSON := open(b, kindConnection, borrow)
	if isJSON {
		return legacyConnection(b)
	}
	var c store.Connection
	var status string
	d.strings(connStrings, []*string{&c.ID, &c.UserID, &c.ProviderID, &status, &c.Account},
		connLists, []*[]string{&c.Scopes, &c.DeclinedScopes})
	c.Status = store.ConnectionStatus(status)
	c.Version = d.uvarint("version")
	c.ExpiresAt = d.time("expires_at")
	c.CreatedAt = d.time("created_at")
	c.UpdatedAt = d.time("updated_at")
	c.Sealed = d.bytes("sealed", false)
	if err := d.end(); err != nil {
		return store.Connection{}, err
	}
	return c, nil
}

// MatchConnection reports whether the connection record b passes filter.
// It checks the whole record (a corrupt one is an error, as when it is
// decoded) but copies nothing from a binary record.
func MatchConnection(b []byte, filter store.ConnectionFilter) (bool, error) {
	c, err := decodeConnection(b, true)
	if err != nil {
		return false, err
	}
	return filter.Match(c), nil
}

// EncodeProvider returns the stored form of p.
func EncodeProvider(p store.ProviderRecord) []byte {
	b := header(kindProvider, []string{p.ID}, noListValues, 2*timeLen+bytesLen(p.Sealed))
	b = appendTime(b, p.CreatedAt)
	b = appendTime(b, p.UpdatedAt)
	return appendBytes(b, p.Sealed)
}

// DecodeProvider decodes a runtime provider record (binary or JSON).
func DecodeProvider(b []byte) (store.ProviderRecord, error) {
	d, isJSON := open(b, kindProvider, false)
	if isJSON {
		return legacyProvider(b)
	}
	var p store.ProviderRecord
	d.strings(idString, []*string{&p.ID}, noNames, noLists)
	p.CreatedAt = d.time("created_at")
	p.UpdatedAt = d.time("updated_at")
	p.Sealed = d.bytes("sealed", false)
	if err := d.end(); err != nil {
		return store.ProviderRecord{}, err
	}
	return p, nil
}

// EncodeSession returns the stored form of s.
func EncodeSession(s store.Session) []byte {
	b := header(kindSession, []string{s.ID}, noListValues, 2*timeLen+bytesLen(s.Sealed))
	b = appendTime(b, s.CreatedAt)
	b = appendTime(b, s.ExpiresAt)
	return appendBytes(b, s.Sealed)
}

// DecodeSession decodes a console session record (binary or JSON).
func DecodeSession(b []byte) (store.Session, error) {
	d, isJSON := open(b, kindSession, false)
	if isJSON {
		return legacySession(b)
	}
	var s store.Session
	d.strings(idString, []*string{&s.ID}, noNames, noLists)
	s.CreatedAt = d.time("created_at")
	s.ExpiresAt = d.time("expires_at")
	s.Sealed = d.bytes("sealed", false)
	if err := d.end(); err != nil {
		return store.Session{}, err
	}
	return s, nil
}

// EncodeDiscovery returns the stored form of r.
func EncodeDiscovery(r store.DiscoveryRecord) []byte {
	b := header(kindDiscovery, []string{r.ID}, noListValues, timeLen+bytesLen(r.Sealed))
	b = appendTime(b, r.UpdatedAt)
	return appendBytes(b, r.Sealed)
}

// DecodeDiscovery decodes a discovery record (binary or JSON).
func DecodeDiscovery(b []byte) (store.DiscoveryRecord, error) {
	d, isJSON := open(b, kindDiscovery, false)
	if isJSON {
		return legacyDiscovery(b)
	}
	var r store.DiscoveryRecord
	d.strings(idString, []*string{&r.ID}, noNames, noLists)
	r.UpdatedAt = d.time("updated_at")
	r.Sealed = d.bytes("sealed", false)
	if err := d.end(); err != nil {
		return store.DiscoveryRecord{}, err
	}
	return r, nil
}

// EncodeDataKey returns the stored form of k.
func EncodeDataKey(k store.DataKey) []byte {
	b := header(kindDataKey, []string{k.ID, k.RootKeyID}, noListValues, timeLen+bytesLen(k.Wrapped))
	b = appendTime(b, k.CreatedAt)
	return appendBytes(b, k.Wrapped)
}

// DecodeDataKey decodes a wrapped data key record (binary or JSON).
func DecodeDataKey(b []byte) (store.DataKey, error) {
	d, isJSON := open(b, kindDataKey, false)
	if isJSON {
		return legacyDataKey(b)
	}
	var k store.DataKey
	d.strings(dataKeyStrings, []*string{&k.ID, &k.RootKeyID}, noNames, noLists)
	k.CreatedAt = d.time("created_at")
	k.Wrapped = d.bytes("wrapped", true)
	if err := d.end(); err != nil {
		return store.DataKey{}, err
	}
	return k, nil
}

// EncodeEvent returns the stored form of e.
func EncodeEvent(e store.Event) []byte {
	b := header(kindEvent, []string{e.ID, e.Key, e.Type, string(e.Status), e.LastError},
		[][]string{e.Done}, 3*timeLen+10+bytesLen(e.Payload))
	b = binary.AppendVarint(b, int64(e.Attempts))
	b = appendTime(b, e.NextAttemptAt)
	b = appendTime(b, e.CreatedAt)
	b = appendTime(b, e.UpdatedAt)
	return appendBytes(b, e.Payload)
}

// DecodeEvent decodes an outbox event record (binary or JSON).
func DecodeEvent(b []byte) (store.Event, error) {
	d, isJSON := open(b, kindEvent, false)
	if isJSON {
		return legacyEvent(b)
	}
	var e store.Event
	var status string
	d.strings(eventStrings, []*string{&e.ID, &e.Key, &e.Type, &status, &e.LastError}, eventLists, []*[]string{&e.Done})
	e.Status = store.EventStatus(status)
	e.Attempts = d.int("attempts")
	e.NextAttemptAt = d.time("next_attempt_at")
	e.CreatedAt = d.time("created_at")
	e.UpdatedAt = d.time("updated_at")
	e.Payload = d.bytes("payload", false)
	if err := d.end(); err != nil {
		return store.Event{}, err
	}
	return e, nil
}

// EncodeAudit returns the stored form of e.
func EncodeAudit(e store.AuditEntry) []byte {
	b := header(kindAudit, []string{e.ID, e.Actor, e.Action, e.Target}, [][]string{e.Changed}, timeLen+1)
	b = appendTime(b, e.Time)
	return appendBool(b, e.SecretReentered)
}

// DecodeAudit decodes an audit entry (binary or JSON).
func DecodeAudit(b []byte) (store.AuditEntry, error) {
	d, isJSON := open(b, kindAudit, false)
	if isJSON {
		return legacyAudit(b)
	}
	var e store.AuditEntry
	d.strings(auditStrings, []*string{&e.ID, &e.Actor, &e.Action, &e.Target}, auditLists, []*[]string{&e.Changed})
	e.Time = d.time("time")
	e.SecretReentered = d.bool("secret_reentered")
	if err := d.end(); err != nil {
		return store.AuditEntry{}, err
	}
	return e, nil
}
