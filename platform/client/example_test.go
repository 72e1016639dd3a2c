package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/powny/powny/platform/client"
)

// exampleAPI stands in for a Powny API with one function, hello.
func exampleAPI() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/functions/hello/invoke", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": 42, "function": "hello", "version": 3, "state": "succeeded",
			"input": {"name": "x"}, "result": {"greeting": "hello, x"}, "attempts": 1, "max_attempts": 1,
			"created_at": "2025-01-02T03:04:05Z"}`)
	})
	mux.HandleFunc("GET /v1/invocations/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"type": "urn:powny:problem:not-found", "title": "Not found", "status": 404,
			"detail": "no invocation 7"}`)
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := exampleAPI()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, "my-token", nil)

	inv, err := c.Invoke(ctx, "hello", json.RawMessage(`{"name": "x"}`), client.InvokeOptions{Wait: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	fmt.Println(inv.ID, inv.State, string(inv.Result))

	_, err = c.GetInvocation(ctx, 7)
	var perr *client.ProblemError
	fmt.Println(errors.Is(err, client.ErrNotFound), errors.As(err, &perr) && perr.Code() == "not-found")
	fmt.Println(err)

	// Output:
	// 42 succeeded {"greeting": "hello, x"}
	// true true
	// no invocation 7 (status 404)
}
