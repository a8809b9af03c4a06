package dht

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"net/netip"
	"sync"
)

// tokenLen is how many bytes of the SHA-1 a token keeps: enough that
// guessing one is hopeless, short enough to keep replies small.
const tokenLen = 8

// tokenSecrets makes and checks get_peers write tokens the way BEP 5
// describes: the SHA-1 of a secret and the requester's IP, the secret
// changed every five minutes and the previous one still accepted, so a
// token lives five to ten minutes and only works from the address it was
// given to.
type tokenSecrets struct {
	mu        sync.Mutex
	cur, prev [16]byte
}

func newTokenSecrets() *tokenSecrets {
	t := &tokenSecrets{}
	rand.Read(t.cur[:])
	rand.Read(t.prev[:])
	return t
}

func tokenFor(secret [16]byte, ip netip.Addr) string {
	h := sha1.New()
	h.Write(secret[:])
	h.Write(ip.Unmap().AsSlice())
	return string(h.Sum(nil)[:tokenLen])
}

// make returns the token for ip under the current secret.
func (t *tokenSecrets) make(ip netip.Addr) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tokenFor(t.cur, ip)
}

// valid reports whether tok was given to ip under the current or the
// previous secret.
func (t *tokenSecrets) valid(tok string, ip netip.Addr) bool {
	if len(tok) != tokenLen {
		return false
	}
	t.mu.Lock()
	cur, prev := tokenFor(t.cur, ip), tokenFor(t.prev, ip)
	t.mu.Unlock()
	return subtle.ConstantTimeCompare([]byte(tok), []byte(cur)) == 1 ||
		subtle.ConstantTimeCompare([]byte(tok), []byte(prev)) == 1
}

// rotate makes the current secret the previous one and draws a new one.
func (t *tokenSecrets) rotate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prev = t.cur
	rand.Read(t.cur[:])
}
