package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

// preflight checks the settings for a real ZITADEL before anything runs, and
// reports every problem on a line of its own: an instance that cannot be
// reached, key files of the wrong kind, settings that are missing.
func preflight(ctx context.Context, envFile string) error {
	// Only the file counts: the samples run with the settings removed from
	// their environment (see childEnv).
	env, err := config.Load(func(string) string { return "" }, envFile)
	if err != nil {
		return err
	}
	domain := env.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	if path := env.Path("API_PRIVATE_KEY_FILE", "the API application's key file, for api-jwt"); path != "" {
		if _, err := keyfile.LoadApplication(path); err != nil {
			env.Problem(fmt.Errorf("API_PRIVATE_KEY_FILE: %w", err))
		}
	}
	if path := env.Path("CLIENT_PRIVATE_KEY_FILE_PATH", "the service user's key file, for service-user-jwt"); path != "" {
		if _, err := keyfile.LoadServiceAccount(path); err != nil {
			env.Problem(fmt.Errorf("CLIENT_PRIVATE_KEY_FILE_PATH: %w", err))
		}
	}
	env.Required("API_CLIENT_ID", "the API application's client id, for api-basic-authentication")
	env.Required("API_CLIENT_SECRET", "the API application's client secret, for api-basic-authentication")
	env.Required("PROJECT_ID", "the id of the project the API belongs to")
	env.Required("CLIENT_ID", "the service user's user name, for service-user-client-credentials")
	env.Required("CLIENT_SECRET", "the service user's client secret, for service-user-client-credentials")
	env.Required("PAT", "a personal access token of the service user, for service-user-pat")
	if domain != "" {
		if err := discover(ctx, domain); err != nil {
			env.Problem(fmt.Errorf("ZITADEL_DOMAIN: %w", err))
		}
	}
	return env.Err()
}

// discover checks that domain serves ZITADEL's discovery document and that
// its issuer is domain itself (the audience of every signed assertion).
func discover(ctx context.Context, domain string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := domain + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s cannot be reached: %w", url, err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc) != nil {
		return fmt.Errorf("%s answered %s, not a discovery document: is this a ZITADEL instance?", url, resp.Status)
	}
	if doc.Issuer != domain {
		return fmt.Errorf("the instance's issuer is %q: set ZITADEL_DOMAIN to exactly that", doc.Issuer)
	}
	return nil
}
