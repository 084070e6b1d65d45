#!/usr/bin/env bash
# copy-sample.sh [-module PATH] NAME DIR: make DIR a project of its own,
# holding the sample NAME (api-jwt, api-basic-authentication,
# service-user-jwt, service-user-client-credentials or service-user-pat) at
# its root and only the internal packages it imports, with import paths
# rewritten and go.mod tidied. Its README, .env.example and main.go describe
# the copy: commands that work inside DIR. A .gitignore keeps .env and key
# files out of version control.
#
#   scripts/copy-sample.sh api-jwt ~/src/my-api
#   scripts/copy-sample.sh -module github.com/me/my-api api-jwt ~/src/my-api
#   cd ~/src/my-api && cp .env.example .env   # fill it in, then: go run .
#
# -module sets the module path (default: example.com/<basename of DIR>).
set -euo pipefail

samples="api-jwt | api-basic-authentication | service-user-jwt | service-user-client-credentials | service-user-pat"
usage() {
	echo "usage: $0 [-module PATH] NAME DIR" >&2
	echo "  NAME: $samples" >&2
	echo "  -module PATH: the copy's module path (default: example.com/<basename of DIR>)" >&2
	exit 2
}

module=
while [ $# -gt 0 ]; do
	case "$1" in
	-module | --module)
		[ $# -ge 2 ] || usage
		module=$2
		shift 2
		;;
	-module=* | --module=*)
		module=${1#*=}
		shift
		;;
	-h | -help | --help) usage ;;
	-*)
		echo "unknown flag: $1" >&2
		usage
		;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || usage
# Accept what tab completion gives: api-jwt/ or ./api-jwt/.
name=${1#./}
name=${name%%/*}
dest=$2
case "$name" in
api-jwt | api-basic-authentication | service-user-jwt | service-user-client-credentials | service-user-pat) ;;
*)
	echo "unknown sample: $1" >&2
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
module=${module:-example.com/$(basename "$dest")}
# go mod init checks the module path: first, before anything is copied.
if ! out=$(cd "$dest" && go mod init "$module" 2>&1); then
	echo "$out" >&2
	rmdir "$dest" 2>/dev/null || true
	exit 2
fi

cd "$root"
old=$(go list -m)
# The copy gets the same versions of the libraries as this repository: the
# three of the cards, and keyfunc with what it needs (a newer golang.org/x/time
# would ask for a newer Go). go mod tidy drops those a sample does not use.
requires=$(go list -m -f '{{.Path}}@{{.Version}}' github.com/joho/godotenv github.com/golang-jwt/jwt/v5 github.com/go-chi/chi/v5 \
	github.com/MicahParks/keyfunc/v3 github.com/MicahParks/jwkset golang.org/x/time)
# golang.org/x/oauth2 v0.36.0 is its newest release for Go 1.25; this
# repository has a newer one, which zitadel/oidc (the local issuer) asks for.
requires="$requires golang.org/x/oauth2@v0.36.0"

# The sample's own files: its Go sources (not tests: they need the local
# issuer, which stays here), README and .env.example.
for f in "$name"/*.go; do
	case "$f" in *_test.go) continue ;; esac
	cp "$f" "$dest/"
done

# Every internal package the sample imports, directly or not.
go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "./$name" |
	{ grep "^$old/internal/" || true; } |
	while read -r pkg; do
		rel=${pkg#"$old/"}
		mkdir -p "$dest/$rel"
		for f in "$rel"/*.go; do
			# Tests need the local issuer; repository.go holds what only
			# this repository has.
			case "$f" in *_test.go | */repository.go) continue ;; esac
			cp "$f" "$dest/$rel/"
		done
	done

# Rewrite import paths to the new module.
find "$dest" -name '*.go' -exec sed -i "s#\"$old/internal/#\"$module/internal/#g" {} +

# Commands in the copy run inside it: `go run .`, settings in ./.env. The
# README marks what holds only in this repository (the local ZITADEL of
# `combos serve`) and what only in a copy:
#   <!-- in the repository --> ... <!-- end -->   dropped
#   <!-- in a copy ... -->                         shown
commands="s#go run \./$name -env \.local-zitadel/\.env#go run .#g; s#go run \./$name\b#go run .#g; s#$name/\.env\.example#.env.example#g; s#\.local-zitadel/\.env#.env#g"
awk '
	/^<!-- in the repository -->$/ { skip = 1; next }
	skip && /^<!-- end -->$/ { skip = 0; next }
	skip { next }
	/^<!-- in a copy/ { copy = 1; next }
	copy && /^-->$/ { copy = 0; next }
	{ print }
' "$name/README.md" | sed -e "$commands" >"$dest/README.md"
cat >>"$dest/README.md" <<MD

---

Copied from the \`$name\` sample of the Go edition of ZITADEL's API access and token introspection
examples, with \`scripts/copy-sample.sh\`. \`internal/\` holds the helpers it uses.
MD
grep -v -e '\.local-zitadel' -e 'combos' "$name/.env.example" >"$dest/.env.example"
# In main.go's doc comment: drop the lines about the repository's local
# ZITADEL, and run the program as the copy runs it.
sed -i -e '/^\/\/.*\(\.local-zitadel\|combos\)/d' -e "$commands" "$dest"/*.go

cat >"$dest/.gitignore" <<'IGNORE'
# Settings and key files hold secrets: keep them out of version control.
.env
*.env
!.env.example
# Key files: as this sample's .env.example names them, and as the ZITADEL
# console downloads them (<key id>.json).
*key*.json
[0-9]*.json
IGNORE

cd "$dest"
# The samples need Go 1.25 (MicahParks/keyfunc/v3 requires it), not this
# repository's newer go line, which the local issuer's library sets.
go mod edit -go=1.25
for r in $requires; do
	go mod edit -require="$r"
done
if ! out=$(go mod tidy 2>&1); then
	echo "$out" >&2
	exit 1
fi
echo "copied $name to $dest as module $module"
echo "next: cd $dest && cp .env.example .env, fill it in (see README.md), and go run ."
