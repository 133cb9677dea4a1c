// Package netguard keeps requests the engine makes on behalf of
// configuration it does not fully trust (providers added through the
// admin API, connection variables apps give, endpoints built from token
// metadata, discovered metadata and MCP server URLs) away from private
// networks: loopback, RFC 1918 and unique local ranges, link-local (cloud
// metadata at 169.254.169.254), carrier grade NAT, unspecified, multicast
// and reserved addresses.
//
// It checks twice. CheckURL runs when the configuration is written: a
// host given as an IP address in any form (dotted, decimal 2130706433,
// hex, octal, IPv6, IPv4-mapped ::ffff:127.0.0.1) or a DNS name resolving
// to such an address is refused with a *BlockedError. Transport runs when
// a connection is made: its dialer refuses any connection whose resolved
// address is private, so a name that resolved to a public address when it
// was checked and to a private one later (DNS rebinding) is still refused.
//
// netguard owns the address rules only. It imports nothing of the
// engine's; callers decide when the guard applies (operators' own
// engine.yaml endpoints stay unrestricted) and how a refusal is reported.
package netguard
