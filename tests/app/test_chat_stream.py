"""The ordered stream: contiguous seq, idempotent sends, author-only edits, resume without gaps."""

from __future__ import annotations

import pytest

from app.chat.protocol import ProtocolError, ResumePoint
from app.chat.stream import MAX_RECOVERY, SNAPSHOT_SIZE, StreamEvent, StreamState


def room(window: int = 1000) -> StreamState:
    return StreamState(epoch="ep1", window_size=window)


def test_messages_get_contiguous_seqs() -> None:
    state = room()
    seqs = [state.send("u1", "Ann", f"n{i}", f"hello {i}", 1000 + i).seq for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert state.head == 5


def test_a_resent_nonce_is_recognised_and_not_stored_twice() -> None:
    state = room()
    first = state.send("u1", "Ann", "abc", "hi", 1)
    again = state.send("u1", "Ann", "abc", "hi", 2)
    assert first.event is not None and not first.duplicate
    assert again.duplicate and again.seq == first.seq and again.event is None
    assert state.head == 1
    other_user = state.send("u2", "Bob", "abc", "hi", 3)
    assert other_user.seq == 2 and not other_user.duplicate


def test_wire_form_of_each_event() -> None:
    state = room()
    message = state.send("u1", "Ann", "n1", "hi", 1000).event
    assert message is not None
    assert message.to_wire("ep1") == {
        "type": "chat.message",
        "seq": 1,
        "epoch": "ep1",
        "id": "ep1.1",
        "user": "u1",
        "name": "Ann",
        "ts": 1000,
        "nonce": "n1",
        "text": "hi",
    }
    edit = state.edit("u1", "Ann", "n2", 1, "hi!", 2000).event
    delete = state.delete("u1", "Ann", "n3", 1, 3000).event
    assert edit is not None and edit.to_wire("ep1")["type"] == "chat.edited"
    assert edit.to_wire("ep1")["target"] == 1 and edit.to_wire("ep1")["text"] == "hi!"
    assert delete is not None and delete.to_wire("ep1")["type"] == "chat.deleted"
    assert "text" not in delete.to_wire("ep1")


def test_only_the_author_can_edit_or_delete() -> None:
    state = room()
    state.send("u1", "Ann", "n1", "mine", 1)
    with pytest.raises(ProtocolError) as info:
        state.edit("u2", "Bob", "x1", 1, "hijacked", 2)
    assert info.value.code == "not_author" and info.value.nonce == "x1"
    with pytest.raises(ProtocolError) as info:
        state.delete("u2", "Bob", "x2", 1, 2)
    assert info.value.code == "not_author"
    assert state.head == 1


@pytest.mark.parametrize("target", [0, 2, 99])
def test_editing_a_message_that_does_not_exist(target: int) -> None:
    state = room()
    state.send("u1", "Ann", "n1", "x", 1)
    with pytest.raises(ProtocolError, match=f"there is no message {target}") as info:
        state.edit("u1", "Ann", "n2", target, "y", 2)
    assert info.value.code == "not_found"


def test_edits_and_deletes_target_messages_only_and_not_deleted_ones() -> None:
    state = room()
    state.send("u1", "Ann", "n1", "x", 1)
    state.edit("u1", "Ann", "n2", 1, "y", 2)
    with pytest.raises(ProtocolError, match="there is no message 2"):
        state.edit("u1", "Ann", "n3", 2, "z", 3)  # seq 2 is an edit, not a message
    state.delete("u1", "Ann", "n4", 1, 4)
    with pytest.raises(ProtocolError, match="message 1 was deleted"):
        state.edit("u1", "Ann", "n5", 1, "again", 5)


def test_resent_edit_nonce_is_idempotent() -> None:
    state = room()
    state.send("u1", "Ann", "n1", "x", 1)
    first = state.edit("u1", "Ann", "e1", 1, "y", 2)
    again = state.edit("u1", "Ann", "e1", 1, "y", 3)
    assert again.duplicate and again.seq == first.seq == 2


def test_window_forgets_old_nonces_and_old_messages() -> None:
    state = room(window=3)
    for i in range(5):
        state.send("u1", "Ann", f"n{i}", "x", i)
    assert state.window_start == 3
    assert state.send("u1", "Ann", "n4", "x", 9).duplicate  # still in the window
    assert not state.send("u1", "Ann", "n0", "x", 9).duplicate  # forgotten: a new message
    with pytest.raises(ProtocolError, match="too old to change"):
        state.edit("u1", "Ann", "e", 1, "y", 10)


def test_resume_from_the_window_returns_exactly_what_was_missed() -> None:
    state = room()
    for i in range(10):
        state.send("u1", "Ann", f"n{i}", f"m{i}", i)
    recovery = state.recover(ResumePoint("ep1", 7))
    assert recovery.recovered and recovery.history_needed is None
    assert [e.seq for e in recovery.events] == [8, 9, 10]
    up_to_date = state.recover(ResumePoint("ep1", 10))
    assert up_to_date.recovered and up_to_date.events == []


@pytest.mark.parametrize(
    "point",
    [None, ResumePoint("other-epoch", 3), ResumePoint("ep1", 10_000)],
    ids=["fresh-join", "epoch-changed", "claims-the-future"],
)
def test_no_resume_point_a_new_epoch_or_a_bogus_seq_gets_a_snapshot(
    point: ResumePoint | None,
) -> None:
    state = room()
    for i in range(SNAPSHOT_SIZE + 10):
        state.send("u1", "Ann", f"n{i}", "x", i)
    recovery = state.recover(point)
    assert not recovery.recovered
    assert [e.seq for e in recovery.events] == list(range(11, SNAPSHOT_SIZE + 11))


def test_too_far_behind_gets_a_snapshot() -> None:
    state = room(window=10)
    state.head = MAX_RECOVERY + 50
    assert not state.recover(ResumePoint("ep1", 49)).recovered
    assert state.recover(ResumePoint("ep1", 50)).history_needed == (51, MAX_RECOVERY + 50)


def test_resume_beyond_the_window_loads_history_and_checks_it_is_contiguous() -> None:
    state = room(window=5)
    events = [state.send("u1", "Ann", f"n{i}", f"m{i}", i).event for i in range(12)]
    recovery = state.recover(ResumePoint("ep1", 3))
    assert recovery.history_needed == (4, 7)
    history = [e for e in events if e is not None and 4 <= e.seq <= 7]
    complete = state.complete_recovery(recovery, list(reversed(history)))
    assert complete.recovered and [e.seq for e in complete.events] == list(range(4, 13))
    with_hole = state.complete_recovery(recovery, history[:2] + history[3:])
    assert not with_hole.recovered  # never a partial answer


def test_restore_rebuilds_the_state_from_stored_records() -> None:
    state = room()
    for i in range(4):
        state.send("u1", "Ann", f"n{i}", "x", i)
    state.delete("u1", "Ann", "d", 2, 9)
    records = [e.to_record() for e in state.recent(1000)]
    restored = StreamState.restore("ep1", state.head, [StreamEvent.from_record(r) for r in records])
    assert restored.head == 5 and restored.send("u1", "Ann", "n1", "x", 10).duplicate
    with pytest.raises(ProtocolError, match="was deleted"):
        restored.edit("u1", "Ann", "e", 2, "y", 11)
    assert restored.send("u1", "Ann", "new", "x", 12).seq == 6
