package invoke

// Args are the arguments of the River job that runs one invocation. Everything
// else the worker needs is on the invocation's row.
type Args struct {
	InvocationID int64 `json:"invocation_id"`
}

// Kind is the River job kind of invocation jobs.
func (Args) Kind() string { return "powny_invocation" }
