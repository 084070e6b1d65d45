package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

// API_PRIVATE_KEY_FILE_PATH follows the clients' pattern; this API's
// setting, as in the original, is API_PRIVATE_KEY_FILE: the run names it.
func TestKeyFileSettingOfTheClients(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	content := "ZITADEL_DOMAIN=https://my-instance.zitadel.cloud\nAPI_PRIVATE_KEY_FILE_PATH=api-key.json\n"
	if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	err := run(t.Context(), []string{"api-jwt", "-env", envFile}, func(string) string { return "" }, &stdout, &stderr)
	if code := config.Report(err, &stderr); code != config.ExitConfig {
		t.Fatalf("exit code %d, want %d\n%s", code, config.ExitConfig, stderr.String())
	}
	want := "config: API_PRIVATE_KEY_FILE_PATH in " + envFile + " is not a setting: did you mean API_PRIVATE_KEY_FILE?\n"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant a line %q", stderr.String(), want)
	}
}
