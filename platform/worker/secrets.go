package worker

import (
	"encoding/json"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/journal"
)

// scrubEntries returns entries with the secrets the run has read masked out
// of their results and errors (an HTTP response may echo a secret), so that
// no checkpoint row holds one. It copies only when the run read a secret.
//
// A run that resumes replays the masked results: fnrun masks the live
// results the same way, so both runs see the same values (for effects
// made after the secret was read).
func scrubEntries(secrets *fnrun.Secrets, entries []journal.Entry) []journal.Entry {
	if secrets.Len() == 0 || len(entries) == 0 {
		return entries
	}
	out := make([]journal.Entry, len(entries))
	for i, e := range entries {
		if len(e.Result) > 0 {
			e.Result = json.RawMessage(secrets.ScrubJSON(e.Result))
		}
		e.Error = secrets.Scrub(e.Error)
		out[i] = e
	}
	return out
}
