"""The permit schedule as a state machine: requests arrive, time passes, the gate admits."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.ratelimit import PermitRequest, PermitSchedule, Priority, to_ticks


class GateMachine(RuleBasedStateMachine):
    """Time advances in steps; within a step the gate admits whoever is due, as a real gate."""

    @initialize(
        limit=st.integers(1, 6),
        window_ms=st.integers(1, 2000),
        gap_ms=st.sampled_from([0, 10, 200]),
        reserved=st.integers(0, 2),
    )
    def setup(self, limit, window_ms, gap_ms, reserved):
        self.schedule = PermitSchedule(
            limit, window_ms / 1000, gap_ms / 1000, min(reserved, limit - 1)
        )
        self.now = 0.0
        self.waiting: list[PermitRequest] = []
        self.admitted: list[tuple[PermitRequest, float, tuple[PermitRequest, ...]]] = []
        self.count = 0

    @rule(priority=st.sampled_from(list(Priority)), burst=st.integers(1, 4))
    def arrive(self, priority, burst):
        for _ in range(burst):
            self.count += 1
            self.waiting.append(PermitRequest(self.count, priority, self.now))

    @rule(step_ms=st.integers(0, 1500))
    def time_passes(self, step_ms):
        until = self.now + step_ms / 1000
        while self.waiting:
            request, at = self.schedule.next_admission(self.now, self.waiting)
            if at > until:
                break
            others = tuple(w for w in self.waiting if w is not request)
            self.schedule = self.schedule.admit(at, request.priority)
            self.waiting.remove(request)
            self.admitted.append((request, at, others))
            self.now = at
        self.now = until

    @rule(early_ms=st.integers(1, 500), priority=st.sampled_from(list(Priority)))
    def admitting_before_the_bound_is_refused(self, early_ms, priority):
        bound = self.schedule.earliest(-1e9, priority)  # the binding constraint, if any
        if bound == -1e9:
            return  # nothing admitted yet: any time goes
        try:
            self.schedule.admit(bound - early_ms / 1000, priority)
        except InvalidInput as e:
            assert e.field == "at"
        else:
            raise AssertionError("an admission before the limits allow it was accepted")
        assert self.schedule.admit(bound, priority).admissions[-1] == bound

    @invariant()
    def windows_and_gaps_hold(self):
        ticks = [to_ticks(at) for _, at, _ in self.admitted]
        limit, window = self.schedule.limit, to_ticks(self.schedule.window)
        for i in range(len(ticks) - limit):
            assert ticks[i + limit] >= ticks[i] + window
        gap = to_ticks(self.schedule.min_interval)
        for i in range(len(ticks) - 1):
            assert ticks[i + 1] >= ticks[i] + gap

    @invariant()
    def the_admitted_request_outranked_everyone_waiting(self):
        for request, _, others in self.admitted[-3:]:
            for other in others:
                assert (other.priority, -other.arrived_at) <= (
                    request.priority,
                    -request.arrived_at,
                )

    @invariant()
    def nothing_waits_while_a_permit_is_free(self):
        if self.waiting:
            _, at = self.schedule.next_admission(self.now, self.waiting)
            assert at > self.now or to_ticks(at) == to_ticks(self.now)


GateMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestGateMachine = GateMachine.TestCase
