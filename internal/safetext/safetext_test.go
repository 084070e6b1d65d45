package safetext

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"invalid_client", 64, "invalid_client"},
		{"line one\nforged=line\r\x1b[31mred", 64, "line one forged=line  [31mred"},
		{"äöü€ and more", 4, "äöü€…"}, // cut on characters, never inside one
		{"tab\there", 64, "tab here"},
	}
	for _, tt := range tests {
		if got := Printable(tt.in, tt.limit); got != tt.want {
			t.Errorf("Printable(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}
