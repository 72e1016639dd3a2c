package coord

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The contract: every test here runs against both implementations.

// impl is an implementation under test.
type impl struct {
	name  string
	setup func(t *testing.T) *bundle
}

// bundle is one test's coordination service.
type bundle struct {
	// open returns a Coordinator as one process sees it: with ZooKeeper, a
	// new client (session) each time; with Local, the test's one instance.
	open func() Coordinator
	// candidates returns the number of candidates in an election.
	candidates func(name string) int
}

var impls = []impl{
	{name: "Local", setup: setupLocal},
	{name: "ZooKeeper", setup: setupZooKeeper},
}

func setupLocal(t *testing.T) *bundle {
	t.Helper()
	c := NewLocal()
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return &bundle{
		open: func() Coordinator { return c },
		candidates: func(name string) int {
			c.mu.Lock()
			defer c.mu.Unlock()
			if e := c.elections[name]; e != nil {
				return len(e.queue)
			}
			return 0
		},
	}
}

var contractTests = []struct {
	name string
	run  func(t *testing.T, b *bundle)
}{
	{"RegisterAndList", testRegisterAndList},
	{"WatchMembers", testWatchMembers},
	{"DuplicateMember", testDuplicateMember},
	{"RegistrationContextEnds", testRegistrationContextEnds},
	{"OneLeaderAtATimeInOrder", testOneLeaderAtATimeInOrder},
	{"CampaignContextEndsWhileWaiting", testCampaignContextEndsWhileWaiting},
	{"ElectionsAreIndependent", testElectionsAreIndependent},
	{"Close", testClose},
	{"InvalidNames", testInvalidNames},
}

func TestContract(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range contractTests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, im.setup(t))
				})
			}
		})
	}
}

func member(id string) Member {
	return Member{
		ID:        id,
		Role:      "worker",
		Host:      "host-" + id,
		PID:       1000 + len(id),
		Version:   "v1.2.3",
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func register(t *testing.T, c Coordinator, m Member) Registration {
	t.Helper()
	reg, err := c.Register(t.Context(), m)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Close() })
	return reg
}

func testRegisterAndList(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c1, c2 := b.open(), b.open()
	ctx := t.Context()

	list, err := c1.Members(ctx, "worker")
	require.NoError(t, err)
	require.Empty(t, list)

	before := time.Now().Add(-time.Second) // ZooKeeper's clock may differ a little
	regA := register(t, c1, member("a"))
	regB := register(t, c2, member("b"))
	requireClosed(t, regA.Registered(), "a registered")
	requireOpen(t, regA.Lost(), "a lost")

	list, err = c2.Members(ctx, "worker")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, ids(list))
	got := list[0]
	want := member("a")
	require.True(t, got.RegisteredAt.After(before), "RegisteredAt %s", got.RegisteredAt)
	want.RegisteredAt = got.RegisteredAt
	require.True(t, equalMember(want, got), "got %+v, want %+v", got, want)

	other, err := c1.Members(ctx, "collector")
	require.NoError(t, err)
	require.Empty(t, other)

	// Close removes the member at once, and ends the registration.
	require.NoError(t, regB.Close())
	requireClosed(t, regB.Lost(), "b's Lost after Close")
	require.NoError(t, regB.Close(), "idempotent")
	list, err = c1.Members(ctx, "worker")
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids(list))

	// The id is free again.
	register(t, c1, member("b"))
	list, err = c2.Members(ctx, "worker")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, ids(list))
}

func testWatchMembers(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c1, c2 := b.open(), b.open()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	watch, err := c1.WatchMembers(ctx, "worker")
	require.NoError(t, err)
	waitMembers(t, watch) // first: the current, empty, list

	regA := register(t, c2, member("a"))
	waitMembers(t, watch, "a")
	regB := register(t, c1, member("b"))
	list := waitMembers(t, watch, "a", "b")
	require.Equal(t, "host-b", list[1].Host)

	// A member that closes disappears for watchers at once.
	began := time.Now()
	require.NoError(t, regA.Close())
	waitMembers(t, watch, "b")
	require.Less(t, time.Since(began), time.Second)

	// A second watcher gets the current list first.
	watch2, err := c2.WatchMembers(ctx, "worker")
	require.NoError(t, err)
	waitMembers(t, watch2, "b")

	require.NoError(t, regB.Close())
	waitMembers(t, watch)
	waitMembers(t, watch2)

	// The channel closes when ctx ends.
	cancel()
	for range watch {
	}
	for range watch2 {
	}
}

func testDuplicateMember(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c1, c2 := b.open(), b.open()
	register(t, c1, member("a"))

	_, err := c2.Register(t.Context(), member("a"))
	require.ErrorIs(t, err, ErrMemberExists)
	_, err = c1.Register(t.Context(), member("a"))
	require.ErrorIs(t, err, ErrMemberExists)

	// The same id in another role is another member.
	m := member("a")
	m.Role = "collector"
	register(t, c2, m)
}

func testRegistrationContextEnds(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c1, c2 := b.open(), b.open()
	ctx, cancel := context.WithCancel(t.Context())
	reg, err := c1.Register(ctx, member("a"))
	require.NoError(t, err)
	watch, err := c2.WatchMembers(t.Context(), "worker")
	require.NoError(t, err)
	waitMembers(t, watch, "a")

	cancel()
	requireClosed(t, reg.Lost(), "Lost after the context ended")
	waitMembers(t, watch)
	require.NoError(t, reg.Close())
}

// campaigner campaigns in the background.
type campaigner struct {
	value  string
	cancel context.CancelFunc
	done   chan struct{} // closed when Campaign returned
	lead   Leadership
	err    error
}

func campaign(t *testing.T, c Coordinator, election, value string) *campaigner {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	cand := &campaigner{value: value, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(cand.done)
		cand.lead, cand.err = c.Election(election).Campaign(ctx, value)
	}()
	return cand
}

// waitCandidates waits until the election has n candidates.
func waitCandidates(t *testing.T, b *bundle, election string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return b.candidates(election) == n }, waitTimeout, 5*time.Millisecond,
		"want %d candidates", n)
}

func (cand *campaigner) requireLeads(t *testing.T) Leadership {
	t.Helper()
	requireClosed(t, cand.done, cand.value+" leads")
	require.NoError(t, cand.err)
	requireOpen(t, cand.lead.Lost(), cand.value+"'s leadership lost")
	return cand.lead
}

func (cand *campaigner) requireWaits(t *testing.T) {
	t.Helper()
	requireOpen(t, cand.done, cand.value+" returned from Campaign")
}

func testOneLeaderAtATimeInOrder(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	coords := []Coordinator{b.open(), b.open(), b.open()}
	ctx := t.Context()
	observer := b.open()
	obs, err := observer.Election("collector").Observe(ctx)
	require.NoError(t, err)
	waitLeader(t, obs, "")
	_, err = observer.Election("collector").Leader(ctx)
	require.ErrorIs(t, err, ErrNoLeader)

	// Three candidates campaign in order: the first leads.
	var cands []*campaigner
	for i, c := range coords {
		cands = append(cands, campaign(t, c, "collector", fmt.Sprintf("c%d", i+1)))
		waitCandidates(t, b, "collector", i+1)
	}
	l1 := cands[0].requireLeads(t)
	cands[1].requireWaits(t)
	cands[2].requireWaits(t)
	waitLeader(t, obs, "c1")
	leader, err := observer.Election("collector").Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, "c1", leader)

	// Resign hands over to the next in order.
	require.NoError(t, l1.Resign(ctx))
	requireClosed(t, l1.Lost(), "c1's Lost after Resign")
	require.ErrorIs(t, l1.Resign(ctx), ErrNotLeader)
	l2 := cands[1].requireLeads(t)
	cands[2].requireWaits(t)
	waitLeader(t, obs, "c2")

	// The leader's context ending hands over too.
	cands[1].cancel()
	requireClosed(t, l2.Lost(), "c2's Lost after its context ended")
	require.ErrorIs(t, l2.Resign(ctx), ErrNotLeader)
	l3 := cands[2].requireLeads(t)
	waitLeader(t, obs, "c3")
	leader, err = observer.Election("collector").Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, "c3", leader)

	require.NoError(t, l3.Resign(ctx))
	waitLeader(t, obs, "")
	_, err = observer.Election("collector").Leader(ctx)
	require.ErrorIs(t, err, ErrNoLeader)
}

func testCampaignContextEndsWhileWaiting(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c1, c2, c3 := b.open(), b.open(), b.open()
	first := campaign(t, c1, "e", "c1")
	l1 := first.requireLeads(t)
	waitCandidates(t, b, "e", 1)
	second := campaign(t, c2, "e", "c2")
	waitCandidates(t, b, "e", 2)
	third := campaign(t, c3, "e", "c3")
	waitCandidates(t, b, "e", 3)

	// The second withdraws: the third follows the first.
	second.cancel()
	requireClosed(t, second.done, "c2's Campaign returns")
	require.ErrorIs(t, second.err, context.Canceled)
	waitCandidates(t, b, "e", 2)
	third.requireWaits(t)

	require.NoError(t, l1.Resign(t.Context()))
	third.requireLeads(t)

	// A Campaign whose context has ended does not start.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c1.Election("e").Campaign(ctx, "late")
	require.ErrorIs(t, err, context.Canceled)
}

func testElectionsAreIndependent(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c1, c2 := b.open(), b.open()
	a := campaign(t, c1, "a", "x")
	bb := campaign(t, c2, "b", "y")
	a.requireLeads(t)
	bb.requireLeads(t)

	// Many candidates in turn: exactly one leads at any time.
	var leading atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		c := []Coordinator{c1, c2}[i%2]
		wg.Go(func() {
			l, err := c.Election("many").Campaign(t.Context(), fmt.Sprint(i))
			if err != nil {
				errs <- err
				return
			}
			if n := leading.Add(1); n != 1 {
				errs <- fmt.Errorf("%d leaders at once", n)
			}
			time.Sleep(10 * time.Millisecond) // hold the leadership a moment
			leading.Add(-1)
			errs <- l.Resign(t.Context())
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func testClose(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c := b.open()
	other := b.open()
	reg := register(t, c, member("a"))
	l := campaign(t, c, "e", "a").requireLeads(t)
	campaign(t, other, "w", "other").requireLeads(t)
	waiting := campaign(t, c, "w", "a")
	waitCandidates(t, b, "w", 2)
	watch, err := c.WatchMembers(t.Context(), "worker")
	require.NoError(t, err)
	waitMembers(t, watch, "a")
	obs, err := c.Election("e").Observe(t.Context())
	require.NoError(t, err)
	waitLeader(t, obs, "a")

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "idempotent")
	requireClosed(t, reg.Lost(), "registration lost on Close")
	requireClosed(t, l.Lost(), "leadership lost on Close")
	requireClosed(t, waiting.done, "a waiting Campaign returns")
	require.ErrorIs(t, waiting.err, ErrClosed)
	for range watch {
	}
	for range obs {
	}

	_, err = c.Register(t.Context(), member("b"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Members(t.Context(), "worker")
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.WatchMembers(t.Context(), "worker")
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Election("e").Campaign(t.Context(), "x")
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Election("e").Leader(t.Context())
	require.ErrorIs(t, err, ErrClosed)
	_, err = c.Election("e").Observe(t.Context())
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, reg.Close())

	if other != c { // ZooKeeper: the others see the member gone at once
		list, err := other.Members(t.Context(), "worker")
		require.NoError(t, err)
		require.Empty(t, list)
		_, err = other.Election("e").Leader(t.Context())
		require.ErrorIs(t, err, ErrNoLeader)
	}
}

func testInvalidNames(t *testing.T, b *bundle) { //nolint:thelper // a test body, run by TestContract
	c := b.open()
	ctx := t.Context()
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00b", "a\nb"} {
		m := member("x")
		m.ID = bad
		_, err := c.Register(ctx, m)
		require.Error(t, err, "id %q", bad)
		require.NotErrorIs(t, err, ErrClosed)
		m = member("x")
		m.Role = bad
		_, err = c.Register(ctx, m)
		require.Error(t, err, "role %q", bad)
		_, err = c.Members(ctx, bad)
		require.Error(t, err, "role %q", bad)
		_, err = c.WatchMembers(ctx, bad)
		require.Error(t, err, "role %q", bad)
		_, err = c.Election(bad).Campaign(ctx, "v")
		require.Error(t, err, "election %q", bad)
		_, err = c.Election(bad).Leader(ctx)
		require.Error(t, err, "election %q", bad)
		_, err = c.Election(bad).Observe(ctx)
		require.Error(t, err, "election %q", bad)
	}
}
