package templates

import "strings"

// GateOwnsKey says which KeyValueStore keys the gate owns: a store may be
// shared, and keys studiobake does not own are never deleted.
func GateOwnsKey(k string) bool {
	return strings.HasPrefix(k, KVSUserPrefix) || k == KVSCookieSecret
}
