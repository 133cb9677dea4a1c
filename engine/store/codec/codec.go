// Package codec is the stored form of every record the backends keep
// (engine/store/bolt and engine/store/redis write the same bytes): a
// compact binary layout, decoded without reflection and with few
// allocations, that still reads the JSON records earlier releases wrote.
//
// A record is
//
//	byte 0    FormatVersion (2)
//	byte 1    the record kind (kindFlow, kindConnection, ...)
//	strings   uvarint n, then n bytes: the record's strings, each a uvarint
//	          length and its bytes, then the element count of each string
//	          list, then the lists' elements, in a fixed order per kind
//	tail      the kind's other fields, in a fixed order: a time is one byte
//	          (0: the zero time, 1: set) then, when set, the varint Unix
//	          seconds and the uvarint nanoseconds; an integer is a varint
//	          (uvarint when unsigned); a bool is one byte, 0 or 1; a byte
//	          string is a uvarint of its length plus one (0: nil) and its
//	          bytes. The sealed part comes last.
//
// Nothing may follow the tail. Times decode in UTC with their nanoseconds;
// empty lists, and empty sealed parts, decode as nil as they did from JSON
// (a data key's Wrapped keeps nil and empty apart, as it did).
//
// A record whose first byte is '{' is the JSON of earlier releases (bolt's
// with a "v": 1 field, Redis's without); it is decoded as such, and written
// in the binary form the next time the record is written. Any other first
// byte, a kind that is not the one asked for, or a field running past the
// end is an error wrapping ErrCorrupt that names the record kind and what
// is wrong, never the record's content.
//
// Decoders copy what they keep: a decoded record never aliases the bytes
// it was decoded from, so bbolt's memory-mapped values, valid only inside
// their transaction, may be passed directly. The strings of one record
// share one allocation (the strings section), so a connection decodes in
// three allocations: its strings, its scope lists and its sealed part.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// FormatVersion is the first byte of every binary record. JSON records
// begin with '{' (0x7b), so the two never meet.
const FormatVersion byte = 2

// Record kinds, the second byte of a record.
const (
	kindFlow       byte = 1
	kindConnection byte = 2
	kindProvider   byte = 3
	kindSession    byte = 4
	kindDiscovery  byte = 5
	kindDataKey    byte = 6
	kindEvent      byte = 7
	kindAudit      byte = 8
)

// kindNames names the kinds in errors (the names the stores use).
var kindNames = [...]string{
	kindFlow: "flow", kindConnection: "connection", kindProvider: "provider", kindSession: "session",
	kindDiscovery: "discovery record", kindDataKey: "data key", kindEvent: "event", kindAudit: "audit entry",
}

func kindName(k byte) string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("unknown kind %d", k)
}

// ErrCorrupt is wrapped by every decode error.
var ErrCorrupt = errors.New("corrupt record")

// Error is a decode error: which kind of record, and what is wrong with
// it. It never holds the record's content.
type Error struct {
	// Kind is the record kind that was asked for ("connection", ...).
	Kind string
	// Problem says what is wrong ("field sealed: length 900 runs past the
	// end of the record at byte 57").
	Problem string
	// Err is the JSON decoder's error for a JSON record.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "corrupt " + e.Kind + " record: " + e.Problem + ": " + e.Err.Error()
	}
	return "corrupt " + e.Kind + " record: " + e.Problem
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *Error) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the JSON decoder's error, if any.
func (e *Error) Unwrap() error { return e.Err }

// --- encoding ---

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

// stringsLen is the size of the strings section's content.
func stringsLen(strs []string, lists [][]string) int {
	n := 0
	for _, s := range strs {
		n += strLen(s)
	}
	for _, l := range lists {
		n += uvarintLen(uint64(len(l)))
		for _, s := range l {
			n += strLen(s)
		}
	}
	return n
}

// header starts a record of kind k with its strings section; size is a
// bound of the tail's size.
func header(k byte, strs []string, lists [][]string, tail int) []byte {
	n := stringsLen(strs, lists)
	b := make([]byte, 0, 2+uvarintLen(uint64(n))+n+tail)
	b = append(b, FormatVersion, k)
	b = binary.AppendUvarint(b, uint64(n))
	for _, s := range strs {
		b = appendStr(b, s)
	}
	for _, l := range lists {
		b = binary.AppendUvarint(b, uint64(len(l)))
	}
	for _, l := range lists {
		for _, s := range l {
			b = appendStr(b, s)
		}
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// timeLen bounds an encoded time.
const timeLen = 1 + binary.MaxVarintLen64 + 5

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func bytesLen(p []byte) int { return binary.MaxVarintLen64 + len(p) }

func appendBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(p))+1)
	return append(b, p...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// --- decoding ---

// decoder reads one binary record. With borrow set, strings and bytes
// alias the input and lists are only checked (left nil): for a caller
// that looks at the record and drops it before the input changes.
type decoder struct {
	b      []byte
	off    int
	kind   byte
	borrow bool
	err    error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &Error{Kind: kindName(d.kind), Problem: fmt.Sprintf(format, args...)}
	}
}

// open checks the record's first two bytes. It reports whether b is JSON
// (to be decoded by the caller's JSON path) instead.
func open(b []byte, kind byte, borrow bool) (d decoder, isJSON bool) {
	d = decoder{b: b, kind: kind, borrow: borrow}
	switch {
	case len(b) == 0:
		d.fail("empty")
	case b[0] == '{':
		return d, true
	case b[0] != FormatVersion:
		d.fail("unknown format byte 0x%02x (not a record of this engine, or damaged)", b[0])
	case len(b) < 2:
		d.fail("truncated after the format byte")
	case b[1] != kind:
		d.fail("it is a %s record", kindName(b[1]))
	default:
		d.off = 2
	}
	return d, false
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("field %s: bad or truncated number at byte %d", field, d.off)
		return 0
	}
	d.off += n
	return x
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("field %s: bad or truncated number at byte %d", field, d.off)
		return 0
	}
	d.off += n
	return x
}

// length reads a length and checks that many bytes remain.
func (d *decoder) length(field string, n uint64) int {
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("field %s: length %d runs past the end of the record at byte %d (%d bytes)", field, n, d.off, len(d.b))
		return 0
	}
	return int(n)
}

// strings reads the strings section into strs (pointers to the record's
// string fields) and lists; names[i] names strs[i], listNames[i] lists[i].
// Outside borrow mode the section is copied into one string that every
// field slices, and the lists share one slice (each capped at its length).
func (d *decoder) strings(names []string, strs []*string, listNames []string, lists []*[]string) {
	n := d.length("strings", d.uvarint("strings"))
	if d.err != nil {
		return
	}
	var sec string
	if n > 0 {
		if d.borrow {
			sec = unsafe.String(&d.b[d.off], n)
		} else {
			sec = string(d.b[d.off : d.off+n])
		}
	}
	start := d.off
	d.off += n
	r := strReader{s: sec}
	for i, p := range strs {
		*p = r.str(names[i])
	}
	var counts [4]int
	total := 0
	for i := range lists {
		c := r.uvarint(listNames[i])
		if c > uint64(len(sec)-r.off) { // each element takes a byte at least
			r.fail(listNames[i], "%d elements cannot fit in the %d bytes left", c, len(sec)-r.off)
			break
		}
		counts[i] = int(c)
		total += int(c)
	}
	var all []string
	if total > 0 && !d.borrow && r.err == "" {
		all = make([]string, total)
	}
	for i, p := range lists {
		if r.err != "" {
			break
		}
		c := counts[i]
		if all == nil {
			for range c {
				r.str(listNames[i])
			}
			*p = nil
			continue
		}
		l := all[:c:c]
		all = all[c:]
		for j := range l {
			l[j] = r.str(listNames[i])
		}
		if c == 0 {
			l = nil
		}
		*p = l
	}
	if r.err == "" && r.off != len(sec) {
		r.field, r.err = "strings", fmt.Sprintf("%d stray bytes", len(sec)-r.off)
	}
	if r.err != "" {
		d.fail("field %s: %s (strings section at byte %d)", r.field, r.err, start)
	}
}

// strReader reads the strings section.
type strReader struct {
	s          string
	off        int
	field, err string
}

func (r *strReader) fail(field, format string, args ...any) {
	if r.err == "" {
		r.field, r.err = field, fmt.Sprintf(format, args...)
	}
}

func (r *strReader) uvarint(field string) uint64 {
	if r.err != "" {
		return 0
	}
	var x uint64
	for shift := 0; ; shift += 7 {
		if r.off >= len(r.s) || shift > 63 {
			r.fail(field, "bad or truncated length")
			return 0
		}
		c := r.s[r.off]
		r.off++
		if shift == 63 && c > 1 {
			r.fail(field, "bad length")
			return 0
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
}

func (r *strReader) str(field string) string {
	n := r.uvarint(field)
	if r.err != "" {
		return ""
	}
	if n > uint64(len(r.s)-r.off) {
		r.fail(field, "length %d runs past the end of the strings section", n)
		return ""
	}
	s := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (d *decoder) time(field string) time.Time {
	if d.err != nil {
		return time.Time{}
	}
	if d.off >= len(d.b) {
		d.fail("field %s: truncated at byte %d", field, d.off)
		return time.Time{}
	}
	flag := d.b[d.off]
	d.off++
	switch flag {
	case 0:
		return time.Time{}
	case 1:
	default:
		d.fail("field %s: bad time flag %d at byte %d", field, flag, d.off-1)
		return time.Time{}
	}
	sec := d.varint(field)
	nsec := d.uvarint(field)
	if d.err == nil && nsec >= 1e9 {
		d.fail("field %s: %d nanoseconds is not under a second", field, nsec)
	}
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// bytes reads a byte string; an empty one is nil unless keepEmpty.
func (d *decoder) bytes(field string, keepEmpty bool) []byte {
	n := d.uvarint(field)
	if d.err != nil || n == 0 {
		return nil
	}
	l := d.length(field, n-1)
	if d.err != nil {
		return nil
	}
	p := d.b[d.off : d.off+l]
	d.off += l
	switch {
	case l == 0 && !keepEmpty:
		return nil
	case d.borrow:
		return p
	}
	out := make([]byte, len(p)) // make+copy of len(p): not zeroed first
	copy(out, p)
	return out
}

func (d *decoder) bool(field string) bool {
	if d.err != nil {
		return false
	}
	if d.off >= len(d.b) {
		d.fail("field %s: truncated at byte %d", field, d.off)
		return false
	}
	v := d.b[d.off]
	if v > 1 {
		d.fail("field %s: bad bool %d at byte %d", field, v, d.off)
		return false
	}
	d.off++
	return v == 1
}

func (d *decoder) int(field string) int {
	x := d.varint(field)
	if d.err == nil && (x > math.MaxInt || x < math.MinInt) {
		d.fail("field %s: %d is out of range", field, x)
	}
	return int(x)
}

// end checks that nothing follows the record and returns the error.
func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d stray bytes after the record at byte %d", len(d.b)-d.off, d.off)
	}
	return d.err
}
