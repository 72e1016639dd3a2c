package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// EnvVar is an env setting: what functions read with env(name).
type EnvVar struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Secret is a secret as the API shows it: what functions read with
// secret(name). Its value is never shown.
type Secret struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SetEnv sets the env setting name (^[A-Za-z_][A-Za-z0-9_]{0,127}$) to
// value (at most 64 KiB).
func (c *Client) SetEnv(ctx context.Context, name, value string) (EnvVar, error) {
	var v EnvVar
	if err := c.putSetting(ctx, "/v1/env/", name, value, &v); err != nil {
		return EnvVar{}, err
	}
	return v, nil
}

// ListEnv returns every env setting with its value, by name.
func (c *Client) ListEnv(ctx context.Context) ([]EnvVar, error) {
	var page struct {
		Env []EnvVar `json:"env"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/env"}, &page); err != nil {
		return nil, err
	}
	return page.Env, nil
}

// UnsetEnv removes the env setting name; a *ProblemError matching
// ErrNotFound when it is not set.
func (c *Client) UnsetEnv(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/env/" + url.PathEscape(name)}, nil)
	return err
}

// SetSecret sets the secret name (^[A-Za-z_][A-Za-z0-9_]{0,127}$) to value
// (at most 64 KiB).
func (c *Client) SetSecret(ctx context.Context, name, value string) (Secret, error) {
	var s Secret
	if err := c.putSetting(ctx, "/v1/secrets/", name, value, &s); err != nil {
		return Secret{}, err
	}
	return s, nil
}

// ListSecrets returns the names of the secrets and when each was set, by
// name: never their values.
func (c *Client) ListSecrets(ctx context.Context) ([]Secret, error) {
	var page struct {
		Secrets []Secret `json:"secrets"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/secrets"}, &page); err != nil {
		return nil, err
	}
	return page.Secrets, nil
}

// UnsetSecret removes the secret name; a *ProblemError matching ErrNotFound
// when it is not set.
func (c *Client) UnsetSecret(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/secrets/" + url.PathEscape(name)}, nil)
	return err
}

func (c *Client) putSetting(ctx context.Context, prefix, name, value string, out any) error {
	body, err := json.Marshal(map[string]string{"value": value})
	if err != nil {
		return fmt.Errorf("encode setting: %w", err)
	}
	r := request{method: http.MethodPut, path: prefix + url.PathEscape(name), body: body, contentType: "application/json"}
	_, err = c.do(ctx, r, out)
	return err
}
