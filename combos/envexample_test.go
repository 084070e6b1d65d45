package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/joho/godotenv"
)

// TestEnvExamplesNameTheInstanceOnce: in every .env.example only
// ZITADEL_DOMAIN names the placeholder instance. A URL derived from it
// (ZITADEL_TOKEN_URL, ZITADEL_INTROSPECTION_URL) stays commented out, so a
// user who fills in ZITADEL_DOMAIN as told does not send requests to
// my-instance.zitadel.cloud.
func TestEnvExamplesNameTheInstanceOnce(t *testing.T) {
	files, err := filepath.Glob("../*/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../.env.example")
	for _, f := range files {
		env, err := godotenv.Read(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for name, value := range env {
			if name != "ZITADEL_DOMAIN" && strings.Contains(value, "zitadel.cloud") {
				t.Errorf("%s sets %s=%s: a user who changes only ZITADEL_DOMAIN still calls the placeholder instance; comment it out", f, name, value)
			}
		}
	}
}
