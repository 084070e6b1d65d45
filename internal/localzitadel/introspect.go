package localzitadel

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Introspect answers RFC 7662 introspection for an API application, as
// ZITADEL's internal/api/oidc/introspect.go (ZITADEL.md, "Introspection
// endpoint"):
//
//   - The library has already required client authentication (a secret or
//     an assertion; none at all is invalid_request or invalid_client).
//   - A client that fails authentication gets unauthorized_client, HTTP 400:
//     the only error this endpoint returns.
//   - Every problem with the token (unknown, garbage, forged, expired,
//     revoked, for another audience) is HTTP 200 {"active":false}.
//   - An active token carries the user's claims for its scopes and, on every
//     introspection, the calling API's project roles the user is granted.
func (s *server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	app, err := s.i.authenticateAPI(r.Data.ClientCredentials)
	if err != nil {
		return nil, err
	}
	return op.NewResponse(s.i.introspect(app, r.Data.Token)), nil
}

func (i *Instance) introspect(app *apiApp, accessToken string) *oidc.IntrospectionResponse {
	inactive := new(oidc.IntrospectionResponse) // marshals as {"active":false}
	t, ok := i.lookup(accessToken)
	if !ok || !t.active(time.Now()) {
		return inactive
	}
	user := i.userByID(t.userID)
	if user == nil {
		return inactive
	}
	audience, scopes := t.audience, t.scopes
	if t.pat {
		// ZITADEL's assertClientScopesForPAT: a PAT is for whichever API
		// asks. The caller's client ID joins the audience (ZITADEL.md says
		// its project ID too; ZITADEL's code adds the client ID only), and
		// the scope gets a role scope for every role of the caller's
		// project, granted or not: one more reason never to read roles
		// from scope.
		audience = append(slices.Clone(audience), app.clientID)
		scopes = slices.Clone(scopes)
		if p := i.projectByID(app.projectID); p != nil {
			for _, role := range p.roles {
				scopes = append(scopes, scopeProjectRole+role)
			}
		}
	}
	// ZITADEL's validateIntrospectionAudience.
	if !slices.Contains(audience, app.clientID) && !slices.Contains(audience, app.projectID) {
		return inactive
	}

	resp := &oidc.IntrospectionResponse{
		Active:     true,
		Scope:      scopes,
		ClientID:   t.clientID,
		TokenType:  oidc.BearerToken,
		Expiration: oidc.FromTime(t.expiresAt),
		IssuedAt:   oidc.FromTime(t.issuedAt),
		NotBefore:  oidc.FromTime(t.issuedAt),
		Audience:   audience,
		Issuer:     i.Issuer,
		JWTID:      t.id,
	}
	resp.SetUserInfo(i.userInfo(user, scopes, app.projectID))
	return resp
}

// userInfo returns the claims of user for the scopes, and the role claims
// of project (when not "") if the user is granted roles there:
//
//	"urn:zitadel:iam:org:project:roles": {"read:messages": {"<orgId>": "<org domain>"}}
//
// and the same under "urn:zitadel:iam:org:project:<projectId>:roles".
func (i *Instance) userInfo(user *serviceUser, scopes []string, projectID string) *oidc.UserInfo {
	info := &oidc.UserInfo{Subject: user.id}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		// Machine users have a name but no given or family name.
		info.Name = user.displayName
		info.PreferredUsername = user.loginName
	}
	if slices.Contains(scopes, "urn:zitadel:iam:user:resourceowner") {
		info.AppendClaims("urn:zitadel:iam:user:resourceowner:id", i.OrgID)
		info.AppendClaims("urn:zitadel:iam:user:resourceowner:name", "examples")
		info.AppendClaims("urn:zitadel:iam:user:resourceowner:primary_domain", i.OrgDomain)
	}
	if roles := user.roles[projectID]; len(roles) > 0 {
		claim := map[string]map[string]string{}
		for _, role := range roles {
			claim[role] = map[string]string{i.OrgID: i.OrgDomain}
		}
		info.AppendClaims("urn:zitadel:iam:org:project:roles", claim)
		info.AppendClaims("urn:zitadel:iam:org:project:"+projectID+":roles", claim)
	}
	return info
}

// UserInfo answers the userinfo endpoint (OpenID Connect Core §5.3) for an
// active access token: the claims of its scopes and, as ZITADEL does for
// tokens with a project audience, the roles of the first project in it.
func (s *server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	i := s.i
	t, ok := i.lookup(r.Data.AccessToken)
	var user *serviceUser
	if ok && t.active(time.Now()) {
		user = i.userByID(t.userID)
	}
	if user == nil {
		return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("access token invalid"), http.StatusUnauthorized)
	}
	project := ""
	if len(t.audience) > 0 {
		project = t.audience[0]
	}
	return op.NewResponse(i.userInfo(user, t.scopes, project)), nil
}
