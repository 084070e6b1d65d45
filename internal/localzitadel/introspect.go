package localzitadel

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Introspect answers RFC 7662 introspection for an API application, as
// ZITADEL's internal/api/oidc/introspect.go (docs/zitadel-on-the-wire.md,
// "Introspection"):
//
//   - The library has already required client authentication (a secret or
//     an assertion; none at all is invalid_request or invalid_client).
//   - A client that fails authentication gets unauthorized_client with no
//     description, HTTP 400: the only error this endpoint returns. An
//     assertion that cannot be parsed is swallowed: {"active":false}.
//   - Every problem with the token (unknown, garbage, forged, expired,
//     revoked, for another audience) is HTTP 200 {"active":false}.
//   - An active token carries the user's claims for its scopes and, on every
//     introspection, the calling API's project roles the user is granted.
func (s *server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	app, err := s.i.authenticateAPI(r.Data.ClientCredentials)
	if errors.Is(err, errIntrospectInactive) {
		return op.NewResponse(new(oidc.IntrospectionResponse)), nil
	}
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
		// asks. The caller's client ID and project ID join the audience,
		// and the scope gets a role scope for every role of the caller's
		// project, granted or not: one more reason never to read roles
		// from scope.
		audience = append(slices.Clone(audience), app.clientID, app.projectID)
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
		Active:                          true,
		Scope:                           scopes,
		ClientID:                        t.clientID,
		TokenType:                       oidc.BearerToken,
		Expiration:                      oidc.FromTime(t.expiresAt),
		IssuedAt:                        oidc.FromTime(t.issuedAt),
		AuthTime:                        authTime(t),
		NotBefore:                       oidc.FromTime(t.issuedAt),
		Audience:                        audience,
		AuthenticationMethodsReferences: t.amr,
		Issuer:                          i.Issuer,
		JWTID:                           t.id,
	}
	info := i.userInfo(user, scopes)
	// The calling API's project is the current project and the whole role
	// audience (ZITADEL's userInfo with currentProjectOnly): its roles,
	// narrowed to the role scopes when the token asked for any, under the
	// generic and the project-specific claim, and merged (of this one
	// project) under urn:zitadel:iam:org:projects:roles, as
	// setUserInfoRoleClaims adds it to every role assertion.
	if roles := i.grantedRoles(user, app.projectID, requestedRoles(scopes)); roles != nil {
		info.AppendClaims(claimProjectRoles, roles)
		info.AppendClaims("urn:zitadel:iam:org:project:"+app.projectID+":roles", roles)
		info.AppendClaims(claimProjectsRoles, roles)
	}
	resp.SetUserInfo(info)
	return resp
}

// userInfo returns the claims of user for the scopes, without roles.
func (i *Instance) userInfo(user *serviceUser, scopes []string) *oidc.UserInfo {
	info := &oidc.UserInfo{Subject: user.id}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		// Machine users have a name but no given or family name.
		info.Name = user.displayName
		info.PreferredUsername = user.loginName
		info.UpdatedAt = oidc.FromTime(user.updatedAt)
	}
	if slices.Contains(scopes, "urn:zitadel:iam:user:resourceowner") {
		info.AppendClaims("urn:zitadel:iam:user:resourceowner:id", i.OrgID)
		info.AppendClaims("urn:zitadel:iam:user:resourceowner:name", orgName)
		info.AppendClaims("urn:zitadel:iam:user:resourceowner:primary_domain", i.OrgDomain)
	}
	return info
}

// UserInfo answers the userinfo endpoint (OpenID Connect Core §5.3) for an
// active access token, as ZITADEL's UserInfo: the claims of its scopes and,
// only when it asked for role scopes, the role claims of its audience
// (a service user's token has no current project, so no generic claim).
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
	info := i.userInfo(user, t.scopes)
	claims := map[string]any{}
	i.addTokenRoleClaims(claims, user, &t)
	for name, value := range claims {
		info.AppendClaims(name, value)
	}
	return op.NewResponse(info), nil
}

// authTime is when the token's user authenticated. A PAT has no
// authentication behind it, and ZITADEL's answer for one has no auth_time.
func authTime(t token) oidc.Time {
	if t.pat {
		return 0
	}
	return oidc.FromTime(t.issuedAt)
}
