package localzitadel

import "net/http"

// Handler returns the HTTP handler that Start serves, for tests that call
// the instance in memory: inside a testing/synctest bubble, where the fake
// clock moves only while every goroutine waits on the bubble (a socket is
// not the bubble's), the issuer then judges tokens by the bubble's time.
func (i *Instance) Handler() http.Handler { return i.server.Handler }
