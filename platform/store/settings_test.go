package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
)

func TestSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := func(t *testing.T) *store.Store {
		t.Helper()
		pool, _ := testdb.New(t)
		return store.New(pool)
	}

	t.Run("PutListDelete", func(t *testing.T) {
		t.Parallel()
		st := setup(t)

		_, err := st.PutSetting(ctx, store.SettingEnv, "URL", "https://a")
		require.NoError(t, err)
		s, err := st.PutSetting(ctx, store.SettingEnv, "URL", "https://b")
		require.NoError(t, err)
		require.Equal(t, "URL", s.Name)
		require.Empty(t, s.Value)
		_, err = st.PutSetting(ctx, store.SettingEnv, "A_FIRST", "1")
		require.NoError(t, err)
		_, err = st.PutSetting(ctx, store.SettingSecret, "TOKEN", "hunter22")
		require.NoError(t, err)

		env, err := st.ListSettings(ctx, store.SettingEnv)
		require.NoError(t, err)
		require.Len(t, env, 2)
		require.Equal(t, "A_FIRST", env[0].Name)
		require.Equal(t, "https://b", env[1].Value)
		require.False(t, env[1].UpdatedAt.IsZero())

		secrets, err := st.ListSettings(ctx, store.SettingSecret)
		require.NoError(t, err)
		require.Len(t, secrets, 1)
		require.Equal(t, "TOKEN", secrets[0].Name)
		require.Empty(t, secrets[0].Value, "secret values are never listed")

		v, ok, err := st.SettingValue(ctx, store.SettingSecret, "TOKEN")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "hunter22", v)
		_, ok, err = st.SettingValue(ctx, store.SettingEnv, "TOKEN")
		require.NoError(t, err)
		require.False(t, ok, "kinds are apart")

		require.NoError(t, st.DeleteSetting(ctx, store.SettingEnv, "URL"))
		require.ErrorIs(t, st.DeleteSetting(ctx, store.SettingEnv, "URL"), store.ErrNotFound)

		var shown *string
		require.NoError(t, st.Pool().QueryRow(ctx,
			`SELECT value FROM public.powny_settings WHERE kind = 'secret' AND name = 'TOKEN'`).Scan(&shown))
		require.Nil(t, shown, "the audit view hides secret values")
	})

	t.Run("BadName", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		_, err := st.PutSetting(ctx, store.SettingEnv, "1BAD", "x")
		require.Error(t, err, "the table's CHECK refuses it")
	})

	t.Run("Cache", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		_, err := st.PutSetting(ctx, store.SettingEnv, "MODE", "one")
		require.NoError(t, err)
		_, err = st.PutSetting(ctx, store.SettingSecret, "MODE", "secret-one")
		require.NoError(t, err)

		long := st.NewSettingsCache(time.Hour)
		fresh := st.NewSettingsCache(time.Nanosecond)
		for _, c := range []*store.SettingsCache{long, fresh} {
			v, ok, err := c.Env(ctx, "MODE")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "one", v)
			v, ok, err = c.Secret(ctx, "MODE")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "secret-one", v)
			_, ok, err = c.Env(ctx, "UNSET")
			require.NoError(t, err)
			require.False(t, ok)
		}

		_, err = st.PutSetting(ctx, store.SettingEnv, "MODE", "two")
		require.NoError(t, err)
		_, err = st.PutSetting(ctx, store.SettingEnv, "UNSET", "now set")
		require.NoError(t, err)

		v, _, err := long.Env(ctx, "MODE")
		require.NoError(t, err)
		require.Equal(t, "one", v, "kept for the TTL")
		_, ok, err := long.Env(ctx, "UNSET")
		require.NoError(t, err)
		require.False(t, ok, "misses are cached too")

		v, _, err = fresh.Env(ctx, "MODE")
		require.NoError(t, err)
		require.Equal(t, "two", v, "read again after the TTL")
		v, ok, err = fresh.Env(ctx, "UNSET")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "now set", v)
	})
}
