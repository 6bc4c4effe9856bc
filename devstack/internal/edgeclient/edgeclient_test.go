package edgeclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSendAndDecode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/api/v1/x" || string(b) != `{"a":1}` ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer tk" ||
			r.Header.Get("Idempotency-Key") != "k" {
			t.Errorf("request %s %s %s %v", r.Method, r.URL.Path, b, r.Header)
		}
		w.Write([]byte(`{"isOK":true,"data":{"id":7},"total":3}`))
	}))
	defer srv.Close()
	resp, raw, err := Send(context.Background(), srv.Client(), srv.URL, "tk", "POST", "/api/v1/x", map[string]int{"a": 1}, "Idempotency-Key", "k")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Send: %v %v", resp, err)
	}
	var out struct{ ID int }
	env, err := Decode("POST", "/api/v1/x", raw, &out)
	if err != nil || !env.IsOK || out.ID != 7 || env.Total == nil || *env.Total != 3 {
		t.Fatalf("Decode = %+v, %+v, %v", env, out, err)
	}
	if _, err := Decode("GET", "/y", []byte("not json"), nil); err == nil {
		t.Fatal("decoded a body that is not JSON")
	}
}
