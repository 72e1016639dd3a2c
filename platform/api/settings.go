package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/store"
)

// maxSettingValue is the largest env or secret value, in bytes.
const maxSettingValue = 64 << 10

// maxSettingBody bounds the body of a PUT of a setting: the value, escaped
// in JSON at worst (6 bytes per byte), and some room.
const maxSettingBody = 6*maxSettingValue + 4<<10

// settingNameRule is the rule of setting names, as problems state it.
const settingNameRule = fnrun.SettingNameRule + " (^[A-Za-z_][A-Za-z0-9_]{0,127}$)"

// settingAnswer is an env setting or a secret as the API shows it; a
// secret's value is never shown.
type settingAnswer struct {
	Name      string    `json:"name"`
	Value     *string   `json:"value,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

func showSetting(kind string, st store.Setting, value string) settingAnswer {
	a := settingAnswer{Name: st.Name, UpdatedAt: st.UpdatedAt}
	if kind == store.SettingEnv {
		a.Value = &value
	}
	return a
}

// settingName validates the {name} path value of /v1/env and /v1/secrets.
func settingName(r *http.Request, kind string) (string, error) {
	name := r.PathValue("name")
	if fnrun.ValidSettingName(name) {
		return name, nil
	}
	p := problem(http.StatusBadRequest, "invalid-setting-name",
		fmt.Sprintf("%s name %q is invalid: %s", kind, name, settingNameRule))
	p.Field = "name"
	return "", p
}

// putSetting is PUT /v1/env/{name} and PUT /v1/secrets/{name}: body
// {"value": "..."}.
func (s *Server) putSetting(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := settingName(r, kind)
		if err != nil {
			return err
		}
		value, err := readSettingValue(w, r)
		if err != nil {
			return err
		}
		st, err := s.store.PutSetting(r.Context(), kind, name, value)
		if err != nil {
			return err
		}
		// Never the value: logs must not hold a secret.
		s.cfg.Logger.InfoContext(r.Context(), "setting changed", "kind", kind, "name", name)
		writeJSON(w, http.StatusOK, showSetting(kind, st, value))
		return nil
	}
}

// readSettingValue reads {"value": "..."}.
func readSettingValue(w http.ResponseWriter, r *http.Request) (string, error) {
	tooLarge := func() error {
		p := problem(http.StatusRequestEntityTooLarge, "too-large",
			fmt.Sprintf("value exceeds the limit of %d bytes", maxSettingValue))
		p.Field, p.Limit = "value", maxSettingValue
		return p
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingBody))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return "", tooLarge()
	}
	if err != nil {
		return "", problem(http.StatusBadRequest, "bad-request", "reading request body: "+err.Error())
	}
	badBody := func(why string) error {
		p := problem(http.StatusBadRequest, "bad-request", `body must be {"value": "..."} with a string value: `+why)
		p.Field = "value"
		return p
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", badBody("the body is empty")
	}
	if err := checkJSON(body); err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req struct {
		Value *string `json:"value"`
	}
	if err := dec.Decode(&req); err != nil {
		return "", badBody(err.Error())
	}
	switch {
	case req.Value == nil:
		return "", badBody("value is missing")
	case len(*req.Value) > maxSettingValue:
		return "", tooLarge()
	case strings.ContainsRune(*req.Value, 0):
		return "", badBody("value contains a NUL character")
	}
	return *req.Value, nil
}

// listSettings is GET /v1/env (names, values, updated_at) and GET
// /v1/secrets (names and updated_at only).
func (s *Server) listSettings(kind, key string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.store.ListSettings(r.Context(), kind)
		if err != nil {
			return err
		}
		out := make([]settingAnswer, len(list))
		for i, st := range list {
			out[i] = showSetting(kind, st, st.Value)
		}
		writeJSON(w, http.StatusOK, map[string]any{key: out})
		return nil
	}
}

// deleteSetting is DELETE /v1/env/{name} and DELETE /v1/secrets/{name}: 204,
// or 404 when it is not set.
func (s *Server) deleteSetting(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := settingName(r, kind)
		if err != nil {
			return err
		}
		if err := s.store.DeleteSetting(r.Context(), kind, name); err != nil {
			return notFound(err, "%s %q", kind, name)
		}
		s.cfg.Logger.InfoContext(r.Context(), "setting removed", "kind", kind, "name", name)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
