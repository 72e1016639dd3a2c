package client_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/client"
)

func TestSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	b := setup(t, map[string]http.HandlerFunc{
		"PUT /v1/env/REGION":       answer(http.StatusOK, `{"name": "REGION", "value": "eu", "updated_at": "2025-01-02T03:04:05Z"}`),
		"GET /v1/env":              answer(http.StatusOK, `{"env": [{"name": "REGION", "value": "eu", "updated_at": "2025-01-02T03:04:05Z"}]}`),
		"DELETE /v1/env/REGION":    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
		"PUT /v1/secrets/TOKEN":    answer(http.StatusOK, `{"name": "TOKEN", "updated_at": "2025-01-02T03:04:05Z"}`),
		"GET /v1/secrets":          answer(http.StatusOK, `{"secrets": [{"name": "TOKEN", "updated_at": "2025-01-02T03:04:05Z"}]}`),
		"DELETE /v1/secrets/TOKEN": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
		"PUT /v1/env/1X": func(w http.ResponseWriter, _ *http.Request) {
			problem(w, http.StatusBadRequest, "invalid-setting-name", "bad")
		},
	})

	v, err := b.client.SetEnv(ctx, "REGION", "eu")
	require.NoError(t, err)
	require.Equal(t, client.EnvVar{Name: "REGION", Value: "eu", UpdatedAt: at}, v)
	last := b.last(t)
	require.Equal(t, "application/json", last.Header.Get("Content-Type"))
	require.JSONEq(t, `{"value": "eu"}`, last.Body)

	env, err := b.client.ListEnv(ctx)
	require.NoError(t, err)
	require.Equal(t, []client.EnvVar{{Name: "REGION", Value: "eu", UpdatedAt: at}}, env)
	require.NoError(t, b.client.UnsetEnv(ctx, "REGION"))
	require.Equal(t, http.MethodDelete, b.last(t).Method)

	s, err := b.client.SetSecret(ctx, "TOKEN", `p"w<d`)
	require.NoError(t, err)
	require.Equal(t, client.Secret{Name: "TOKEN", UpdatedAt: at}, s)
	require.JSONEq(t, `{"value": "p\"w<d"}`, b.last(t).Body)
	secrets, err := b.client.ListSecrets(ctx)
	require.NoError(t, err)
	require.Equal(t, []client.Secret{{Name: "TOKEN", UpdatedAt: at}}, secrets)
	require.NoError(t, b.client.UnsetSecret(ctx, "TOKEN"))

	err = b.client.UnsetSecret(ctx, "NONE")
	require.ErrorIs(t, err, client.ErrNotFound)
	_, err = b.client.SetEnv(ctx, "1X", "v")
	var p *client.ProblemError
	require.ErrorAs(t, err, &p)
	require.Equal(t, "invalid-setting-name", p.Code())
}
