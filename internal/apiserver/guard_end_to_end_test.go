package apiserver_test

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
)

// TestGuardEndToEnd runs what does not depend on a sample's method once,
// against a local ZITADEL: malformed headers, the cache, and ZITADEL
// failing, slow, rogue or stopped.
func TestGuardEndToEnd(t *testing.T) {
	apiservertest.TestGuard(t)
}
