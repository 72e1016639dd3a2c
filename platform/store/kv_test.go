package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
)

type kvRow struct {
	value     string
	version   int64
	updatedBy *int64
}

func readKV(t *testing.T, st *store.Store, namespace, key string) (kvRow, bool) {
	t.Helper()
	var r kvRow
	err := st.Pool().QueryRow(context.Background(),
		`SELECT value::text, version, updated_by FROM public.powny_kv WHERE namespace = $1 AND key = $2`,
		namespace, key).Scan(&r.value, &r.version, &r.updatedBy)
	if err != nil {
		return kvRow{}, false
	}
	return r, true
}

func TestKV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := func(t *testing.T) *store.Store {
		t.Helper()
		pool, _ := testdb.New(t)
		return store.New(pool)
	}

	t.Run("GetSetDelete", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		kv := st.KV(7)

		v, err := kv.Get(ctx, "fn", "k")
		require.NoError(t, err)
		require.Nil(t, v, "absent")

		require.NoError(t, kv.Set(ctx, "fn", "k", json.RawMessage(`{"b": 1, "a": [true, null]}`)))
		v, err = kv.Get(ctx, "fn", "k")
		require.NoError(t, err)
		require.JSONEq(t, `{"a": [true, null], "b": 1}`, string(v))
		r, ok := readKV(t, st, "fn", "k")
		require.True(t, ok)
		require.EqualValues(t, 1, r.version)
		require.Equal(t, int64(7), *r.updatedBy)

		require.NoError(t, st.KV(8).Set(ctx, "fn", "k", json.RawMessage(`"x"`)))
		r, _ = readKV(t, st, "fn", "k")
		require.EqualValues(t, 2, r.version, "every write bumps the version")
		require.Equal(t, int64(8), *r.updatedBy)

		v, err = kv.Get(ctx, "other", "k")
		require.NoError(t, err)
		require.Nil(t, v, "namespaces are apart")

		existed, err := kv.Delete(ctx, "fn", "k")
		require.NoError(t, err)
		require.True(t, existed)
		existed, err = kv.Delete(ctx, "fn", "k")
		require.NoError(t, err)
		require.False(t, existed)

		require.Error(t, kv.Set(ctx, "fn", "k", nil))
	})

	t.Run("CAS", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		kv := st.KV(1)

		swapped, err := kv.CAS(ctx, "fn", "c", nil, nil)
		require.NoError(t, err)
		require.True(t, swapped, "absent stays absent")

		swapped, err = kv.CAS(ctx, "fn", "c", nil, json.RawMessage(`1`))
		require.NoError(t, err)
		require.True(t, swapped, "created where absent")
		swapped, err = kv.CAS(ctx, "fn", "c", nil, json.RawMessage(`5`))
		require.NoError(t, err)
		require.False(t, swapped, "old nil: only if absent")
		swapped, err = kv.CAS(ctx, "fn", "c", nil, nil)
		require.NoError(t, err)
		require.False(t, swapped)

		swapped, err = kv.CAS(ctx, "fn", "c", json.RawMessage(`2`), json.RawMessage(`3`))
		require.NoError(t, err)
		require.False(t, swapped, "wrong old value")
		swapped, err = st.KV(2).CAS(ctx, "fn", "c", json.RawMessage(`1.0`), json.RawMessage(`{"n": 2, "m": "x"}`))
		require.NoError(t, err)
		require.True(t, swapped, "compared as jsonb: 1.0 equals 1")
		r, _ := readKV(t, st, "fn", "c")
		require.EqualValues(t, 2, r.version)
		require.Equal(t, int64(2), *r.updatedBy)

		swapped, err = kv.CAS(ctx, "fn", "c", json.RawMessage(`{"m": "x", "n": 2}`), nil)
		require.NoError(t, err)
		require.True(t, swapped, "key order does not matter; new nil deletes")
		_, ok := readKV(t, st, "fn", "c")
		require.False(t, ok)

		swapped, err = kv.CAS(ctx, "fn", "c", json.RawMessage(`1`), nil)
		require.NoError(t, err)
		require.False(t, swapped, "nothing to delete")
	})

	t.Run("NoInvocation", func(t *testing.T) {
		t.Parallel()
		st := setup(t)
		require.NoError(t, st.KV(0).Set(ctx, "fn", "k", json.RawMessage(`1`)))
		r, _ := readKV(t, st, "fn", "k")
		require.Nil(t, r.updatedBy)
	})
}
