package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
)

func newSystemCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Show the cluster: members, the collector leader, the queue",
		Long: `System lists the live members of the cluster (api, collector and worker
processes: id, host, pid, version, start time), the collector that leads, and
the invocation jobs by state. With --json it prints the API's document.`,
		Args: cobra.NoArgs,
	}
	opts := newClientOpts(cmd, ce)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := opts.Validate(); err != nil {
			return err
		}
		cmd.SilenceUsage = true
		return systemShow(cmd.Context(), out, opts)
	}
	return cmd
}

func systemShow(ctx context.Context, out io.Writer, o *clientOpts) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	sys, err := c.GetSystem(ctx)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, sys)
	}
	leader := "none"
	if l := sys.CollectorLeader; l != nil {
		leader = fmt.Sprintf("%s (host %s, pid %d)", l.ID, orDash(l.Host), l.PID)
	}
	q := sys.Queue
	if err := writef(out, "Coordinator:      %s\nCollector leader: %s\nQueue:            %d available, %d scheduled, %d running, %d retryable\n\n",
		sys.Coordinator, leader, q.Available, q.Scheduled, q.Running, q.Retryable); err != nil {
		return err
	}
	tw := newTable(out)
	writeRow(tw, "ROLE", "ID", "HOST", "PID", "VERSION", "STARTED")
	roles := make([]string, 0, len(sys.Members))
	for role := range sys.Members {
		roles = append(roles, role)
	}
	slices.Sort(roles)
	for _, role := range roles {
		for _, m := range sys.Members[role] {
			writeRow(tw, role, m.ID, orDash(m.Host), strconv.Itoa(m.PID), orDash(m.Version), formatTime(m.StartedAt, o.env.location))
		}
	}
	return flush(tw)
}
