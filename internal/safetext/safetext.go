// Package safetext keeps text that a server sent (an OAuth error, a content
// type, an API's message) fit for a terminal or a log line.
package safetext

import (
	"strings"
	"unicode"
)

// Printable turns control characters, newlines included, into spaces, so the
// server cannot forge lines or send terminal escapes, and cuts s after limit
// characters (never inside one).
func Printable(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return s
}
