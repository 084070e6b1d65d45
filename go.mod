module github.com/zitadel/go-introspection-examples

go 1.26.8

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/joho/godotenv v1.5.1
)
