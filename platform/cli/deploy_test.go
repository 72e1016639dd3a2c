package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// versionAnswer is a version object as the API sends it.
func versionAnswer(status int, name, version, sha string) http.HandlerFunc {
	return answerJSON(status, `{"function": "`+name+`", "version": `+version+`, "sha256": "`+sha+`",
		"author": "ann", "config": {}, "active": true, "created_at": "2025-01-02T03:04:05Z"}`)
}

// writeFiles writes name → content files in a new directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return dir
}

const (
	sha1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sha2 = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

func TestDeploy(t *testing.T) {
	t.Parallel()

	t.Run("Directory", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{
			"PUT /v1/functions/alpha":      versionAnswer(http.StatusCreated, "alpha", "1", sha1),
			"PUT /v1/functions/beta-check": versionAnswer(http.StatusOK, "beta-check", "12", sha2),
		})
		dir := writeFiles(t, map[string]string{
			"alpha.risor": "func main(x) { return 1 }", "beta-check.risor": "func main(x) { return 2 }",
			"notes.txt": "ignored",
		})
		require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.risor"), 0o700))

		res := b.run(t, "", "deploy", dir)
		require.NoError(t, res.err)
		require.Empty(t, res.stderr)
		require.Equal(t, ""+
			"FUNCTION    VERSION  STATUS     SHA256\n"+
			"alpha       1        created    0123456789ab\n"+
			"beta-check  12       unchanged  fedcba987654\n", res.stdout)

		reqs := b.sent()
		require.Len(t, reqs, 2)
		require.Equal(t, "func main(x) { return 1 }", reqs[0].Body)
		require.Equal(t, "ann", reqs[0].Header.Get("X-Powny-Author"))
		require.Equal(t, "Bearer s3cret", reqs[0].Header.Get("Authorization"))
	})

	t.Run("NameAndAuthor", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{
			"PUT /v1/functions/other": versionAnswer(http.StatusCreated, "other", "1", sha1),
		})
		dir := writeFiles(t, map[string]string{"my file.risor": "func main(x) {}"})

		res := b.run(t, "", "deploy", filepath.Join(dir, "my file.risor"), "--name", "other", "--author", "bob")
		require.NoError(t, res.err)
		require.Equal(t, "bob", b.last(t).Header.Get("X-Powny-Author"))
	})

	t.Run("DefaultAuthor", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{
			"PUT /v1/functions/a": versionAnswer(http.StatusCreated, "a", "1", sha1),
		})
		delete(b.env, "USER")
		dir := writeFiles(t, map[string]string{"a.risor": "func main(x) {}"})

		res := b.run(t, "", "deploy", filepath.Join(dir, "a.risor"))
		require.NoError(t, res.err)
		require.Equal(t, "cli", b.last(t).Header.Get("X-Powny-Author"))
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{
			"PUT /v1/functions/good": versionAnswer(http.StatusCreated, "good", "1", sha1),
			"PUT /v1/functions/bad": answerProblem(http.StatusBadRequest, `{"type": "urn:powny:problem:invalid-source",
				"title": "Invalid function source", "status": 400, "detail": "line 3, column 7: unexpected token", "line": 3, "column": 7}`),
			"PUT /v1/functions/noconfig": answerProblem(http.StatusBadRequest, `{"type": "urn:powny:problem:invalid-source",
				"title": "Invalid function source", "status": 400, "detail": "config: timeout is not a duration", "line": 2}`),
		})
		dir := writeFiles(t, map[string]string{
			"good.risor": "ok", "bad.risor": "x :=", "noconfig.risor": "config := {}", "bad name.risor": "",
		})
		empty := t.TempDir()
		missing := filepath.Join(dir, "missing.risor")

		res := b.run(t, "", "deploy", dir, missing, empty)
		require.EqualError(t, res.err, "5 of 6 deployments failed")
		require.Equal(t, ""+
			missing+": no such file or directory\n"+
			empty+": no .risor files in directory\n"+
			filepath.Join(dir, "bad name.risor")+`: invalid function name "bad name" (letters, digits, _ and -, at most 128; use --name)`+"\n"+
			filepath.Join(dir, "bad.risor")+":3:7: unexpected token\n"+
			filepath.Join(dir, "noconfig.risor")+":2: config: timeout is not a duration\n", res.stderr)
		require.Equal(t, ""+
			"FUNCTION  VERSION  STATUS   SHA256\n"+
			"good      1        created  0123456789ab\n", res.stdout)
	})

	t.Run("Unauthorized", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{
			"PUT /v1/functions/a": answerProblem(http.StatusUnauthorized, `{"type": "urn:powny:problem:unauthorized",
				"title": "Missing or wrong bearer token", "status": 401}`),
		})
		dir := writeFiles(t, map[string]string{"a.risor": "x"})

		res := b.run(t, "", "deploy", filepath.Join(dir, "a.risor"))
		require.EqualError(t, res.err, "1 of 1 deployments failed")
		require.Equal(t, filepath.Join(dir, "a.risor")+": Missing or wrong bearer token"+unauthorizedHint+"\n", res.stderr)
		require.Empty(t, res.stdout)
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{
			"PUT /v1/functions/good": versionAnswer(http.StatusCreated, "good", "1", sha1),
			"PUT /v1/functions/bad": answerProblem(http.StatusBadRequest, `{"type": "urn:powny:problem:invalid-source",
				"title": "Invalid function source", "status": 400, "detail": "line 3, column 7: unexpected token", "line": 3, "column": 7}`),
		})
		dir := writeFiles(t, map[string]string{"good.risor": "ok", "bad.risor": "x :="})

		res := b.run(t, "", "deploy", "--json", dir)
		require.EqualError(t, res.err, "1 of 2 deployments failed")
		requireJSONOutput(t, `{"deployments": [
			{"path": "`+filepath.Join(dir, "bad.risor")+`", "function": "bad", "created": false,
			 "error": {"message": "unexpected token", "type": "urn:powny:problem:invalid-source", "status": 400, "line": 3, "column": 7}},
			{"path": "`+filepath.Join(dir, "good.risor")+`", "function": "good", "created": true,
			 "version": {"function": "good", "version": 1, "sha256": "`+sha1+`", "author": "ann", "config": {},
			             "active": true, "created_at": "2025-01-02T03:04:05Z"}}]}`, res.stdout)
	})

	t.Run("BadOptions", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, nil)
		dir := writeFiles(t, map[string]string{"a.risor": "x", "b.risor": "y"})

		res := b.run(t, "", "deploy")
		require.EqualError(t, res.err, "requires at least 1 arg(s), only received 0")

		res = b.run(t, "", "deploy", "--name", "x", filepath.Join(dir, "a.risor"), filepath.Join(dir, "b.risor"))
		require.EqualError(t, res.err, "--name needs exactly one file")

		res = b.run(t, "", "deploy", "--name", "x y", filepath.Join(dir, "a.risor"))
		require.EqualError(t, res.err, `--name: invalid function name "x y" (letters, digits, _ and -, at most 128)`)

		res = b.run(t, "", "deploy", "--name", "x", dir)
		require.EqualError(t, res.err, "1 of 1 deployments failed")
		require.Equal(t, dir+": --name needs a file, not a directory\n", res.stderr)

		require.Empty(t, b.sent())
	})
}
