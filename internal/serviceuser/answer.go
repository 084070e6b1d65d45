package serviceuser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

// maxAnswer bounds what is read of an answer: the API's are a few hundred bytes.
const maxAnswer = 1 << 20

// Result is the API's answer on one route; with -json it is printed as is.
type Result struct {
	Route       string `json:"route"`
	Status      int    `json:"status"`                // 0: no answer
	Message     string `json:"message,omitempty"`     // of a 200
	Code        string `json:"code,omitempty"`        // RFC 6750 error code, e.g. invalid_token
	Description string `json:"description,omitempty"` // the API's description of the error
	Error       string `json:"error,omitempty"`       // why there was no (usable) answer
	OK          bool   `json:"ok"`                    // the answer this route should give

	err error // for the hint
}

// call calls route of the API at baseURL with tok and reads the answer.
func call(ctx context.Context, client *http.Client, baseURL, route string, tok *oauth2.Token) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+route, nil)
	if err != nil {
		return noAnswer(route, err)
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req) // Authorization: Bearer (RFC 6750 §2.1)
	resp, err := client.Do(req)
	if err != nil {
		return noAnswer(route, err)
	}
	defer resp.Body.Close()
	// A body cut short is judged like any body that is not the API's JSON.
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return answer(route, resp.StatusCode, resp.Header.Get("Content-Type"), raw, tok.AccessToken)
}

// answer reads the API's answer on route to a request with token:
// {"message"} or {"code","description"}, as the API samples answer.
func answer(route string, status int, contentType string, raw []byte, token string) Result {
	var body struct{ Message, Code, Description string }
	if json.Unmarshal(raw, &body) != nil {
		body.Message, body.Code, body.Description = "", "", ""
	}
	r := Result{
		Route:       route,
		Status:      status,
		Message:     clean(body.Message, token, 200),
		Code:        clean(body.Code, token, 64),
		Description: clean(body.Description, token, 300),
	}
	switch {
	case status == http.StatusOK && r.Message == "":
		// A web page, a proxy's answer: a 200 without the API's message
		// proves nothing about the token.
		r.Error = fmt.Sprintf("not the JSON of the API samples (%s)", clean(contentType, token, 100))
		r.err = errors.New(route + " answered 200 with " + r.Error)
	case status == http.StatusOK,
		// The right answer for a user without the role; a 403 of another
		// kind (a firewall's, say) is not.
		route == routePrivateScoped && status == http.StatusForbidden && r.Code == "insufficient_scope":
		r.OK = true
	case r.Code != "":
		r.err = fmt.Errorf("%s answered %d %s", route, r.Status, r.Code)
	default:
		// Not the API's JSON error: a proxy's page, say.
		r.err = fmt.Errorf("%s answered %d %s", route, r.Status, http.StatusText(r.Status))
	}
	return r
}

// clean makes text of the API fit for a terminal: printable, short, and
// without the token, which an API other than these samples may quote.
func clean(s, token string, limit int) string {
	if token != "" {
		s = strings.ReplaceAll(s, token, "[token]")
	}
	return config.Printable(s, limit)
}

func noAnswer(route string, err error) Result {
	msg := err.Error()
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		msg = ue.Err.Error() // without the repeated method and URL
	}
	return Result{Route: route, Error: msg, err: err}
}

// Line is the result as one aligned line: route, status, message or error.
func (r Result) Line() string {
	var text string
	switch {
	case r.Status == 0:
		return fmt.Sprintf("%-20s ---  no answer: %s", r.Route, r.Error)
	case r.Error != "":
		text = r.Error
	case r.Status == http.StatusOK:
		text = r.Message
	case r.OK && r.Status == http.StatusForbidden:
		text = fmt.Sprintf("%s: the service user lacks the role %s", r.Code, roleReadMessages)
	case r.Description != "":
		text = r.Code + ": " + r.Description
	case r.Code != "":
		text = r.Code
	default:
		text = http.StatusText(r.Status)
	}
	return fmt.Sprintf("%-20s %d  %s", r.Route, r.Status, text)
}

// hint is the usual cause of a failed route.
func (r Result) hint(baseURL, rejected string) string {
	switch {
	case r.Status == 0:
		return fmt.Sprintf("is the API running at API_BASE_URL=%s? start it, or set API_BASE_URL to where it runs", baseURL)
	case r.Status == http.StatusUnauthorized && r.Code == "insufficient_scope":
		// The token is good; a permission is missing (RFC 6750 §3.1 answers
		// it with 403, as the API samples do): not a matter of PROJECT_ID.
		return "the API says the token lacks a permission this route needs (insufficient_scope), not that it is invalid: grant the service user the route's role in the API's project"
	case r.Status == http.StatusUnauthorized:
		return rejected
	case r.Status == http.StatusServiceUnavailable:
		return "the API cannot reach ZITADEL to introspect the token: see the API's log"
	case r.Status == http.StatusInternalServerError:
		return "the API failed, e.g. ZITADEL rejects the API's own credentials: its log names the setting"
	case r.Status > http.StatusInternalServerError:
		return "the API, or a proxy in front of it, failed: see the API's log"
	}
	// The API samples answer nothing else (a 200 without their JSON, a 404).
	return fmt.Sprintf("is API_BASE_URL=%s an API of these examples?", baseURL)
}
