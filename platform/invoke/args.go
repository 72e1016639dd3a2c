package invoke

import "github.com/powny/powny/platform/store"

// Args are the arguments of the River job that runs an invocation. The
// invocation row names its job (river_job_id), which is how a worker finds
// it; the function's name is here for people reading River's tables. The
// store inserts these jobs itself, together with their invocation.
type Args struct {
	Function string `json:"function"`
}

// Kind is the River job kind of invocation jobs.
func (Args) Kind() string { return store.JobKind }
