package apiservertest

import (
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"regexp"
	"strings"
	"testing"
	"time"
)

func (h *harness) testLogs(t *testing.T) {
	inst := h.inst
	api := h.start(t, "INTROSPECTION_CACHE_TTL", "0")
	// Every kind of token and answer, including ZITADEL failing.
	tokens := []string{
		h.mint(t, inst.Reader, localzitadel.TokenOptions{}),
		h.mint(t, inst.JWTReader, localzitadel.TokenOptions{}),
		h.mint(t, inst.NoRole, localzitadel.TokenOptions{}),
		h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: -time.Minute}),
		inst.Reader.PAT,
		"garbage",
	}
	for _, token := range tokens {
		for _, path := range []string{"/api/public", "/api/private", "/api/private-scoped", "/api/private?access_token=" + token} {
			api.Get(t, path, bearer(token))
		}
		api.Get(t, "/api/private", "Basic "+token)
		api.Get(t, "/api/private", bearer(token)+" "+token)
	}
	inst.SetFault(localzitadel.Fault{Status: 500, ContentType: "text/html", Body: "<html>down</html>"})
	api.Get(t, "/api/private", bearer(tokens[0]))
	inst.SetFault(localzitadel.Fault{})

	if err := api.Stop(); err != nil {
		t.Fatal(err)
	}
	logs := api.Logs()
	// The private route's handler adds who called, from FromContext, to
	// the request's one log line.
	caller := `path=/api/private status=200 duration=`
	for _, want := range []string{"listening", "method=GET", "path=/api/private-scoped", "status=403", "duration=", "stopped", caller} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	callerLine := regexp.MustCompile(`msg=request method=GET path=/api/private status=200 duration=\S+ subject=` + inst.Reader.UserID +
		` username=` + regexp.QuoteMeta(inst.Reader.UserName) + `\S* organization=\S* roles=read:messages`)
	if !callerLine.MatchString(logs) {
		t.Errorf("no request line with who called:\n%s", logs)
	}
	if strings.Contains(logs, "access_token") {
		t.Errorf("logs show a query string:\n%s", logs)
	}
	h.secrets.CheckLogs(t, h.sample.Name, logs)
}
