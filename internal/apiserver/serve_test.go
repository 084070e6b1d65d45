package apiserver

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServePortInUse: a port another program holds is reported with the
// two ways to choose another, and nothing is served.
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	var stdout strings.Builder
	err = Serve(t.Context(), Settings{Addr: addr.String(), Timeout: time.Second}, http.NotFoundHandler(), slog.New(slog.DiscardHandler), &stdout)
	next := addr.Port + 1
	want := "listen on " + addr.String() + ": the port is in use by another program: stop it, or choose another port with PORT=" + strconv.Itoa(next) + " or -addr 127.0.0.1:" + strconv.Itoa(next)
	if err == nil || err.Error() != want {
		t.Errorf("Serve = %v, want %q", err, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed %q although nothing listens", stdout.String())
	}
	if got := portInUse("localhost:5000").Error(); !strings.Contains(got, "PORT=5001 or -addr localhost:5001") || !strings.Contains(got, "AirPlay Receiver") {
		t.Errorf("port 5000: %q", got)
	}
}
