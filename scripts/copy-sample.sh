#!/usr/bin/env bash
# copy-sample.sh NAME DIR: make DIR a standalone Go module holding the sample
# NAME (api-jwt, api-basic-authentication, service-user-jwt,
# service-user-client-credentials or service-user-pat) at its root and only the
# internal packages it imports, with import paths rewritten and go.mod tidied.
#
#   scripts/copy-sample.sh api-jwt ~/src/my-api
#   cd ~/src/my-api && cp .env.example .env && go run .
#
# MODULE sets the new module path (default: example.com/<basename of DIR>).
set -euo pipefail

usage() {
	echo "usage: $0 NAME DIR" >&2
	echo "  NAME: api-jwt | api-basic-authentication | service-user-jwt | service-user-client-credentials | service-user-pat" >&2
	exit 2
}

[ $# -eq 2 ] || usage
name=$1
dest=$2
case "$name" in
api-jwt | api-basic-authentication | service-user-jwt | service-user-client-credentials | service-user-pat) ;;
*)
	echo "unknown sample: $name" >&2
	usage
	;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
	echo "$dest exists and is not empty; choose a new directory" >&2
	exit 2
fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
module=${MODULE:-example.com/$(basename "$dest")}

cd "$root"
old=$(go list -m)
# The copy gets the same versions of the three libraries as this repository.
requires=$(go list -m -f '{{.Path}}@{{.Version}}' github.com/joho/godotenv github.com/golang-jwt/jwt/v5 github.com/go-chi/chi/v5)

# The sample's own files: its Go sources (not tests: they need the local
# issuer, which stays here), README and .env.example.
for f in "$name"/*.go; do
	case "$f" in *_test.go) continue ;; esac
	cp "$f" "$dest/"
done
cp "$name/README.md" "$name/.env.example" "$dest/"

# Every internal package the sample imports, directly or not.
go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "./$name" |
	{ grep "^$old/internal/" || true; } |
	while read -r pkg; do
		rel=${pkg#"$old/"}
		mkdir -p "$dest/$rel"
		for f in "$rel"/*.go; do
			case "$f" in *_test.go) continue ;; esac
			cp "$f" "$dest/$rel/"
		done
	done

# Rewrite import paths to the new module.
find "$dest" -name '*.go' -exec sed -i "s#\"$old/internal/#\"$module/internal/#g" {} +

cd "$dest"
go mod init "$module" 2>/dev/null
# The samples need Go 1.24 (log/slog.DiscardHandler, ...), not this
# repository's newer go line, which the local issuer's library sets.
go mod edit -go=1.24
for r in $requires; do
	go mod edit -require="$r"
done
if ! out=$(go mod tidy 2>&1); then
	echo "$out" >&2
	exit 1
fi
echo "copied $name to $dest as module $module"
echo "next: cd $dest && cp .env.example .env && go run ."
