package localzitadel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An instance started again with the same Dir is the same instance, as a
// restarted ZITADEL: ids, keys, secrets and PATs stay, and tokens issued
// before the restart stay active until they expire (or stay inactive,
// once revoked). Before, a restart broke every running API with "client
// not found".
func TestRestartKeepsTheInstance(t *testing.T) {
	dir := t.TempDir()
	z1, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	opaque := accessToken(t, z1, z1.Reader)
	jwtToken := accessToken(t, z1, z1.JWTReader)
	revoked := accessToken(t, z1, z1.Reader)
	z1.Revoke(revoked)
	admin, err := z1.AddAdmin("admin", true)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, err := os.ReadFile(z1.JWTAPI.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(z1.Issuer, "http://")
	if err := z1.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode %v, want 0600", st.Mode().Perm())
	}

	// The same address, as `combos serve` uses: the issuer is the same too.
	z2, err := Start(t.Context(), Options{Dir: dir, Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer z2.Close()
	if !z2.Restored() {
		t.Fatal("Restored() = false after a restart with the same Dir")
	}
	for name, pair := range map[string][2]string{
		"ProjectID":               {z1.ProjectID, z2.ProjectID},
		"OrgID":                   {z1.OrgID, z2.OrgID},
		"JWTAPI.ClientID":         {z1.JWTAPI.ClientID, z2.JWTAPI.ClientID},
		"BasicAPI.ClientSecret":   {z1.BasicAPI.ClientSecret, z2.BasicAPI.ClientSecret},
		"Reader.ClientSecret":     {z1.Reader.ClientSecret, z2.Reader.ClientSecret},
		"Reader.PAT":              {z1.Reader.PAT, z2.Reader.PAT},
		"JWTReader.KeyID":         {z1.JWTReader.KeyID, z2.JWTReader.KeyID},
		"Issuer":                  {z1.Issuer, z2.Issuer},
		"Awkward.ClientSecret":    {z1.Awkward.ClientSecret, z2.Awkward.ClientSecret},
		"AwkwardAPI.ClientSecret": {z1.AwkwardAPI.ClientSecret, z2.AwkwardAPI.ClientSecret},
	} {
		if pair[0] != pair[1] || pair[0] == "" {
			t.Errorf("%s changed across the restart", name)
		}
	}
	if after, _ := os.ReadFile(z2.JWTAPI.KeyFile); string(after) != string(keyFile) {
		t.Error("the API's key file changed across the restart")
	}
	for _, tok := range []string{opaque, jwtToken, z2.Reader.PAT} {
		for _, api := range []App{z2.JWTAPI, z2.BasicAPI} {
			if m := introspectAs(t, z2, api, tok).json(t); m["active"] != true {
				t.Errorf("a token issued before the restart is inactive after it: %v", m)
			}
		}
	}
	wantInactive(t, introspectBasic(t, z2, z2.BasicAPI, revoked))
	// The old keys and secrets still work for new tokens.
	if r := clientCredentialsBasic(t, z2, z2.Reader.UserName, z2.Reader.ClientSecret, scopeFor(z2.ProjectID)); r.status != 200 {
		t.Errorf("client_credentials after the restart = %d %s", r.status, r.body)
	}
	accessToken(t, z2, z2.JWTReader)
	// The admin is taken up too, not created twice.
	again, err := z2.AddAdmin("admin", true)
	if err != nil || again.UserID != admin.UserID {
		t.Errorf("AddAdmin after the restart = %v, %v; want the admin %s", again, err, admin.UserID)
	}
	if err := z2.Close(); err != nil {
		t.Fatal(err)
	}

	// Fresh: a new instance in the same Dir.
	z3, err := Start(t.Context(), Options{Dir: dir, Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	defer z3.Close()
	if z3.Restored() || z3.ProjectID == z1.ProjectID || z3.Reader.ClientSecret == z1.Reader.ClientSecret {
		t.Error("Fresh kept the saved instance")
	}
}

// A state file that cannot be read stops Start with a message that names
// it and says how to start afresh; it is not silently replaced.
func TestRestartWithBrokenState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "fresh") {
		t.Errorf("Start with a broken state.json: %v, want an error naming it and the fresh option", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "{not json" {
		t.Error("the broken state.json was overwritten")
	}
}

// An instance with a temporary Dir saves nothing.
func TestNoStateWithoutDir(t *testing.T) {
	z := startInstance(t)
	accessToken(t, z, z.Reader)
	if _, err := os.Stat(filepath.Join(z.Dir, "state.json")); err == nil {
		t.Error("state.json written into a temporary Dir")
	}
}
