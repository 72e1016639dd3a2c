// Package coord coordinates Powny's processes: which members (workers,
// collectors, API servers) are alive, and which collector leads.
//
// One interface, [Coordinator], has two implementations: [ZooKeeper], for
// processes on many machines, and [Local], in-process, for a single node
// (`powny dev`, or no ZooKeeper configured). The same contract tests run
// against both.
//
// # Members
//
// [Coordinator.Register] makes a process a member of its role until its
// context ends; [Coordinator.Members] and [Coordinator.WatchMembers] list the
// live members of a role. A worker's member id is its River client id, so
// that river_job.attempted_by names the member running a job.
//
// With ZooKeeper, a member is the ephemeral node
//
//	<chroot>/members/<role>/<id>   {"host", "pid", "version", "started_at"}
//
// (the chroot, default "/powny", lets several Powny clusters share an
// ensemble; parents are created as needed). The node lives as long as the
// process's session: a process that dies is gone for the others about one
// session timeout later.
//
// # Session loss
//
// The zk client reconnects by itself, to any server of the ensemble, and
// keeps its session (and so its nodes and watches) if it reconnects within
// the session timeout: a server going down is not noticed. The session is
// lost when the server says it expired (on reconnection), or when the client
// has had no connection for the session timeout: by then the server may have
// expired it, removed the member's node, and the collector may have handed
// the member's jobs to others. (When the whole ensemble is down or without
// quorum, the session in fact survives, but the client cannot tell; it is
// treated as lost all the same.)
//
// On a loss, every registration's [Registration.Lost] channel and every
// leadership's [Leadership.Lost] channel is closed: a worker must cancel the
// runs it holds, a leader must stop acting. Registrations then register
// again by themselves, with a new node (and a new [Member.RegisteredAt]) as
// soon as the client has a session; leaderships are over (the caller
// campaigns again).
//
// Note that when a client is cut off from a healthy ensemble, the server may
// expire its session up to two thirds of a session timeout before Lost
// fires (the client notices a silent connection only after its read timeout).
// Lost makes the loser stop promptly; exclusion (a job run by one worker, one
// collector acting) must still be fenced where the work is written.
//
// # Election
//
// [Coordinator.Election] returns a group's [Election]: [Election.Campaign]
// blocks until the candidate leads, [Leadership.Resign] hands over to the
// next one, [Election.Leader] and [Election.Observe] tell who leads (the
// value each candidate campaigned with: its member id). With ZooKeeper it
// follows the recipe of the ZooKeeper documentation: each candidate is an
// ephemeral sequential node <chroot>/election/<name>/_c_<guid>-n-<seq>
// holding its value; the lowest sequence leads; every other candidate watches
// only its predecessor, so a departure wakes one candidate (no herd effect).
// The state machine of one Campaign:
//
//	Campaign(ctx, value)
//	  │
//	  ▼
//	WAIT for a session ◄─────────────────────────────────────────┐
//	  │                                                          │
//	  ▼                                                          │
//	LIST the candidates, by sequence ◄───────────────────────┐   │
//	  │                                                      │   │
//	  ├── none is mine ──► CREATE _c_<guid>-n-, ephemeral ───┤   │
//	  │                    and sequential                    │   │
//	  │                                                      │   │
//	  ├── mine is k-th, k > 0 ──► WATCH the (k-1)-th ── gone ┘   │
//	  │                             │   └── session lost ────────┘
//	  │                             └── ctx ends: delete mine, return ctx.Err()
//	  │
//	  └── mine is first ──► LEADER (Campaign returns a Leadership)
//	                          │
//	                          ├── Resign, ctx ends: delete mine ───► ENDED
//	                          └── session lost, mine deleted ──────► ENDED
//	                              (mine deleted if the session survived)
//
// A new session finds none of its nodes (they went with the old one) and
// creates one again, at the end of the line. In ENDED, Leadership.Lost is
// closed: it is closed whenever the leadership ends (loss, Resign, ctx,
// Close), so that the leader's work can be bound to it.
//
// With [Local], the first campaigner leads and the others wait in order.
//
// # Imports
//
// The standard library and github.com/go-zookeeper/zk. Nothing of Powny.
package coord
