package localzitadel

// Which management APIs a ZITADEL release serves, so that tests and
// `combos serve -zitadel-version` can play an older one. Only the calls
// `combos setup` makes are modelled (docs/zitadel-on-the-wire.md,
// "Which ZITADEL serves what"):
//
//   - management v1 (REST gateway, /management/v1/…): every release.
//   - zitadel.user.v2.UserService with CreateUser, UpdateUser, AddKey,
//     AddSecret, AddPersonalAccessToken and their removals, over Connect:
//     v3.0 and later (zitadel#9763 added the machine-user calls in the v3 line).
//   - zitadel.project.v2, zitadel.application.v2, zitadel.authorization.v2:
//     v4.5 and later (zitadel#10772 "Move V2beta APIs to V2", #10844, #10914).
//   - machine.accessTokenType in v2 CreateUser and UpdateUser: only the
//     current release (zitadel#11599, closing #10850 reported on v4.2.2);
//     earlier ones drop the unknown field.

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a ZITADEL release as major.minor; the zero value is current.
type version struct{ major, minor int }

// parseVersion reads "", "current" or "vMAJOR.MINOR[.PATCH]".
func parseVersion(s string) (version, error) {
	if s == "" || s == "current" {
		return version{}, nil
	}
	bad := fmt.Errorf("ZITADEL version %q: want current or vMAJOR.MINOR from v2.0 on, e.g. v3.4 or v4.4", s)
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if !strings.HasPrefix(s, "v") || len(parts) < 2 || len(parts) > 3 {
		return version{}, bad
	}
	var n [3]int
	for k, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return version{}, bad
		}
		n[k] = v
	}
	if n[0] < 2 {
		return version{}, bad
	}
	return version{major: n[0], minor: n[1]}, nil
}

func (v version) current() bool { return v == version{} }

// atLeast reports whether v serves what major.minor introduced.
func (v version) atLeast(major, minor int) bool {
	return v.current() || v.major > major || (v.major == major && v.minor >= minor)
}

func (v version) String() string {
	if v.current() {
		return "current"
	}
	return fmt.Sprintf("v%d.%d", v.major, v.minor)
}

// procedureSince is the release that introduced each v2 service's calls
// used here, by path prefix; an older instance answers them as an
// unknown path (plain 404), as ZITADEL's router does.
var procedureSince = []struct {
	prefix       string
	major, minor int
}{
	{"/zitadel.project.v2.ProjectService/", 4, 5},
	{"/zitadel.application.v2.ApplicationService/", 4, 5},
	{"/zitadel.authorization.v2.AuthorizationService/", 4, 5},
	{"/zitadel.user.v2.UserService/", 3, 0},
}

// serves reports whether the instance's release serves the procedure.
func (v version) serves(path string) bool {
	for _, p := range procedureSince {
		if strings.HasPrefix(path, p.prefix) {
			return v.atLeast(p.major, p.minor)
		}
	}
	return true
}
