package config

// This file belongs to the repository, not to a copy of a sample:
// scripts/copy-sample.sh leaves it out, as a copy has no local ZITADEL.
func init() {
	repositoryHint = "cp .env.example .env and fill it in, name a settings file with -env FILE, or start a local ZITADEL with go run ./combos serve and use -env .local-zitadel/.env"
}
