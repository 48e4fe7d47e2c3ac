"""The alert state machine, driven by synthetic window sequences (pure, time passed in)."""

import random

import pytest

from cribside.edge.temporal.alerts import AlertMachine, AlertSettings, Reading

PERIOD = 1 / 3  # one window per sampled frame at 3 fps
WALL0 = 1_700_000_000.0

CALM = Reading("none", 0.05, 0.02, 0.01)
CRY = Reading("cry", 0.93, 0.10, 0.02)
MODERATE = Reading("moderate_pain", 0.80, 0.71, 0.05)
SEVERE = Reading("severe_pain", 0.95, 0.10, 0.88)


class Driver:
    """Feeds readings one window apart and records every event."""

    def __init__(self, settings: AlertSettings | None = None) -> None:
        self.machine = AlertMachine(settings or AlertSettings(), id_prefix="crib-1-boot")
        self.t = 0.0
        self.events = []

    def feed(self, *readings: Reading) -> list:
        new = []
        for reading in readings:
            new += self.machine.update(reading, self.t, WALL0 + self.t)
            self.t += PERIOD
        self.events += new
        return new

    def wait(self, seconds: float) -> list:
        self.t += seconds
        new = self.machine.tick(self.t, WALL0 + self.t)
        self.events += new
        return new


def test_calm_windows_never_alert() -> None:
    d = Driver()
    assert d.feed(*[CALM] * 300) == []
    assert d.machine.level == "none"


def test_single_false_cry_window_does_not_start() -> None:
    d = Driver()
    assert d.feed(CALM, CRY, CALM, CALM, CRY, CALM, CALM) == []


def test_k_of_m_starts_on_third_agreeing_window() -> None:
    d = Driver()
    assert d.feed(CRY, CALM, CRY) == []
    events = d.feed(CRY)  # last four: cry, calm, cry, cry -> 3 of 4
    assert [(e.event, e.type, e.level) for e in events] == [("start", "distress", "cry")]
    assert events[0].peak["cry"] == pytest.approx(0.93)
    assert events[0].episode_id.startswith("crib-1-boot-")
    assert d.machine.level == "cry"


def test_two_of_four_is_not_enough() -> None:
    d = Driver()
    assert d.feed(CRY, CALM, CALM, CRY, CRY, CALM, CALM, CRY) == []


def test_false_start_rate_matches_the_k_of_m_argument() -> None:
    """Independent windows at the paper's 7.6% false-alarm rate: starts on far fewer than 7.6% of windows."""
    rng = random.Random(7)
    d = Driver(AlertSettings(quiet_s=2.0, update_interval_s=1e9))
    n = 20_000
    d.feed(*[CRY if rng.random() < 0.076 else CALM for _ in range(n)])
    starts = sum(e.event == "start" for e in d.events)
    # 4 p^3 (1-p) + p^4 = 0.16% per window; allow sampling noise and the quiet period's reset.
    max_false_start_rate = 0.004
    assert starts / n < max_false_start_rate
    assert starts / n < 0.076 / 10


def test_severe_pain_alerts_on_one_window() -> None:
    d = Driver()
    events = d.feed(SEVERE)
    assert [(e.event, e.level) for e in events] == [("start", "severe_pain")]
    assert events[0].peak["severe_pain"] == pytest.approx(0.88)


def test_severe_waits_for_k_when_bypass_is_off() -> None:
    d = Driver(AlertSettings(severe_immediate=False))
    assert d.feed(SEVERE, SEVERE) == []
    assert [e.level for e in d.feed(SEVERE)] == ["severe_pain"]


def test_escalation_cry_to_moderate_to_severe_with_stable_id() -> None:
    d = Driver()
    d.feed(CRY, CRY, CRY)
    d.feed(MODERATE, MODERATE)
    escalated = d.feed(MODERATE)  # moderate on 3 of the last 4
    assert [(e.event, e.level) for e in escalated] == [("update", "moderate_pain")]
    to_severe = d.feed(SEVERE)
    assert [(e.event, e.level) for e in to_severe] == [("update", "severe_pain")]
    d.feed(CRY, CRY, CRY, CRY)  # never de-escalates within an episode
    assert d.machine.level == "severe_pain"
    assert len({e.episode_id for e in d.events}) == 1


def test_ends_after_quiet_period_with_duration_and_peaks() -> None:
    settings = AlertSettings(quiet_s=20.0, update_interval_s=1e9)
    d = Driver(settings)
    d.feed(CRY, CRY, CRY, MODERATE)
    last_agree = d.t - PERIOD
    calm_windows = int(20.0 / PERIOD) - 2
    assert d.feed(*[CALM] * calm_windows) == []  # still inside the quiet period
    ended = d.feed(CALM, CALM, CALM)
    assert [e.event for e in ended] == ["end"]
    end = ended[0]
    assert end.ended_ts is not None and end.ended_ts - WALL0 >= last_agree + 20.0 - 1e-6
    assert end.duration_s == pytest.approx(end.ended_ts - end.started_ts, abs=1e-6)
    assert end.peak == {"cry": 0.93, "moderate_pain": 0.71, "severe_pain": 0.05}
    assert d.machine.level == "none"
    assert d.feed(CRY, CRY, CRY)[0].episode_id != end.episode_id  # a new episode, a new id


def test_time_alone_ends_an_episode() -> None:
    d = Driver()
    d.feed(CRY, CRY, CRY)
    assert [e.event for e in d.wait(25.0)] == ["end"]


def test_periodic_updates_then_ack_silences_them_but_not_escalation() -> None:
    d = Driver(AlertSettings(update_interval_s=2.0, quiet_s=60.0))
    start = d.feed(CRY, CRY, CRY)[0]
    updates = [e for e in d.feed(*[CRY] * 14) if e.event == "update"]  # 4.7 s more crying: 2 intervals
    assert len(updates) == 2
    ok, reason, events = d.machine.acknowledge(start.episode_id, d.t, WALL0 + d.t)
    assert ok and [e.acknowledged for e in events] == [True]
    assert d.feed(*[CRY] * 30) == []  # acknowledged: no more periodic updates
    escalated = d.feed(SEVERE)
    assert [(e.event, e.level, e.acknowledged) for e in escalated] == [("update", "severe_pain", True)]


def test_ack_of_unknown_episode_is_refused() -> None:
    d = Driver()
    ok, reason, events = d.machine.acknowledge("nope", 0.0, WALL0)
    assert not ok and "no active episode" in reason and events == []
    assert "nope" not in reason  # reasons never echo the sender's text


def test_snooze_holds_back_cry_but_never_severe() -> None:
    d = Driver(AlertSettings(update_interval_s=1e9))
    ok, _ = d.machine.snooze(5, "distress", d.t, WALL0 + d.t)
    assert ok
    assert d.feed(*[CRY] * 6) == []
    assert d.machine.level == "cry"  # the state still tells the truth
    severe = d.feed(SEVERE)
    assert [(e.event, e.level) for e in severe] == [("start", "severe_pain")]
    assert severe[0].snoozed_until == pytest.approx(WALL0 + 300.0)


def test_episode_still_active_when_snooze_runs_out_is_announced() -> None:
    d = Driver(AlertSettings(update_interval_s=1e9, quiet_s=600.0))
    d.machine.snooze(1, "distress", d.t, WALL0 + d.t)
    assert d.feed(*[CRY] * 6) == []
    announced = d.wait(61.0)
    assert [(e.event, e.level, e.snoozed_until) for e in announced] == [("start", "cry", None)]


def test_episode_that_ends_while_snoozed_sends_nothing() -> None:
    d = Driver()
    d.machine.snooze(10, "distress", d.t, WALL0 + d.t)
    d.feed(CRY, CRY, CRY)
    assert d.wait(30.0) == [] and d.events == []


def test_no_signal_episode_start_and_end() -> None:
    d = Driver()
    started = d.machine.signal_lost(d.t, WALL0 + d.t)
    assert [(e.event, e.type, e.level) for e in started] == [("start", "no_signal", "no_signal")]
    assert started[0].peak == {"cry": 0.0, "moderate_pain": 0.0, "severe_pain": 0.0}
    assert d.machine.level == "no_signal"
    assert d.machine.signal_lost(d.t + 1, WALL0 + d.t + 1) == []  # already lost: no second start
    ended = d.machine.signal_restored(d.t + 5, WALL0 + d.t + 5)
    assert [(e.event, e.episode_id) for e in ended] == [("end", started[0].episode_id)]
    assert ended[0].duration_s == pytest.approx(5.0)


def test_no_signal_is_never_snoozed() -> None:
    d = Driver()
    assert d.machine.snooze(5, "distress", d.t, WALL0)[0]
    events = d.machine.signal_lost(d.t, WALL0)
    assert [(e.event, e.type, e.snoozed_until) for e in events] == [("start", "no_signal", None)]


@pytest.mark.parametrize("kind", ["all", "no_signal", "cry"])
def test_snooze_of_anything_but_distress_is_refused(kind: str) -> None:
    machine = AlertMachine(AlertSettings(), "x")
    ok, reason = machine.snooze(5, kind, 0.0, WALL0)
    assert not ok and "only 'distress'" in reason
    assert [e.event for e in machine.signal_lost(1.0, WALL0 + 1)] == ["start"]


def test_snooze_is_bounded() -> None:
    from cribside.edge.temporal.alerts import MAX_SNOOZE_MINUTES

    machine = AlertMachine(AlertSettings(), "x")
    ok, reason = machine.snooze(MAX_SNOOZE_MINUTES + 1, "distress", 0.0, WALL0)
    assert not ok and str(MAX_SNOOZE_MINUTES) in reason
    assert machine.snooze(MAX_SNOOZE_MINUTES, "distress", 0.0, WALL0)[0]


def test_lost_camera_never_hides_open_severe_pain() -> None:
    d = Driver()
    d.feed(SEVERE)
    assert d.machine.level == "severe_pain" and not d.machine.no_signal
    d.machine.signal_lost(d.t, WALL0 + d.t)
    assert d.machine.level == "severe_pain" and d.machine.no_signal
    d.machine.signal_restored(d.t + 1, WALL0 + d.t + 1)
    assert not d.machine.no_signal


def test_device_fault_episode_is_never_snoozed() -> None:
    d = Driver()
    d.machine.snooze(30, "distress", d.t, WALL0)
    started = d.machine.device_problem("outbox_full", d.t, WALL0)
    assert [(e.event, e.type, e.level) for e in started] == [("start", "device", "outbox_full")]
    assert d.machine.device_problem("outbox_full", d.t + 1, WALL0 + 1) == []  # one episode, not one per call
    assert d.machine.level == "none"  # a device fault is not the infant's alert level
    ended = d.machine.device_ok("outbox_full", d.t + 2, WALL0 + 2)
    assert [(e.event, e.episode_id) for e in ended] == [("end", started[0].episode_id)]


def test_reading_levels_from_probabilities() -> None:
    cry = {"no": 0.2, "yes": 0.8}
    assert Reading.from_probabilities(cry, {"none": 0.7, "moderate": 0.2, "severe": 0.1}).level == "cry"
    assert Reading.from_probabilities(cry, {"none": 0.2, "moderate": 0.7, "severe": 0.1}).level == "moderate_pain"
    calm = Reading.from_probabilities({"no": 0.9, "yes": 0.1}, {"none": 0.1, "moderate": 0.1, "severe": 0.8})
    assert calm.level == "severe_pain" and calm.p_severe == 0.8
    assert Reading.from_probabilities({"no": 0.9, "yes": 0.1}, {"none": 0.9, "moderate": 0.05, "severe": 0.05}).level == "none"


def test_k_larger_than_m_is_rejected() -> None:
    with pytest.raises(ValueError):
        AlertSettings(k=5, m=4)


def test_blindness_never_ends_an_episode() -> None:
    d = Driver(AlertSettings(quiet_s=5.0, update_interval_s=1e9))
    d.feed(CRY, CRY, CRY)
    for _ in range(60):  # 20 s with the face hidden: no evidence that the crying stopped
        d.t += PERIOD
        d.events += d.machine.blind(d.t, WALL0 + d.t)
    assert [e.event for e in d.events] == ["start"] and d.machine.level == "cry"
    ended = d.feed(CALM)  # the face is back and calm: the quiet period is long over
    assert [e.event for e in ended] == ["end"]


def test_lost_camera_keeps_distress_open_until_calm_is_seen() -> None:
    d = Driver(AlertSettings(quiet_s=5.0, update_interval_s=1e9))
    d.feed(SEVERE)
    d.machine.signal_lost(d.t, WALL0 + d.t)
    assert d.wait(60.0) == [] and "severe_pain" in [e.level for e in d.events]
    d.machine.signal_restored(d.t, WALL0 + d.t)
    assert [e.event for e in d.feed(CALM)] == ["end"]
