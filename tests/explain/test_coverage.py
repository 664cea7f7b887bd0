"""Every word our peers say, and every command our client sends, has an annotation.

The dialogues are real (conftest.py): our client and a bare-socket client against aiosmtpd,
Postfix's smtp-sink and the capture server. The only words allowed to be unknown are the ones
the hand-typed session makes up on purpose.
"""

from __future__ import annotations

import pytest

from app.explain import Note, Step, explain
from app.explain.annotations import COMMANDS
from app.smtp import events
from app.smtp.writer import command_line

MISTAKES = {"FOO", "MAIL"}  # typed to see the server refuse a verb it does not know, and MAIL bare


def unknown_notes(steps: list[Step]) -> list[tuple[str, Note]]:
    found = []
    for step in steps:
        for line in (*step.command, *step.reply):
            found += [(line.text, note) for note in line.notes if not note.known]
    return [(text, note) for text, note in found if text not in MISTAKES]


def server_notes(steps: list[Step]) -> list[Note]:
    return [note for step in steps for line in step.reply for note in line.notes]


@pytest.mark.parametrize("peer", ["aiosmtpd_dialogues", "smtp_sink_dialogues", "capture_dialogues"])
def test_every_reply_code_keyword_and_command_is_annotated(
    peer: str, request: pytest.FixtureRequest
) -> None:
    for dialogue in request.getfixturevalue(peer):
        steps = explain(dialogue)
        assert unknown_notes(steps) == []
        assert all(step.reply for step in steps if step.kind != "note"), "a command unanswered"


def test_the_peers_said_what_the_coverage_claims(
    aiosmtpd_dialogues: list[list[str]],
    smtp_sink_dialogues: list[list[str]],
    capture_dialogues: list[list[str]],
) -> None:
    """The sessions really reach the codes, enhanced codes and keywords they are meant to."""
    dialogues = [*aiosmtpd_dialogues, *smtp_sink_dialogues, *capture_dialogues]
    terms = {note.term for d in dialogues for note in server_notes(explain(d))}
    codes = {"220", "221", "250", "252", "354", "454", "500", "501", "502", "503", "538", "550"}
    enhanced = {"2.0.0", "2.1.0", "2.1.5", "5.5.1", "5.7.1", "5.7.11", "5.6.7", "5.1.3"}
    keywords = {"SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "HELP", "AUTH", "DSN"}
    keywords |= {"ENHANCEDSTATUSCODES", "XCLIENT", "XFORWARD", "(empty)"}
    assert codes | enhanced | keywords <= terms


def test_every_command_our_client_can_send_is_annotated() -> None:
    sent = [
        events.Ehlo("client.test"),
        events.Helo("client.test"),
        events.StartTLS(),
        events.Auth("PLAIN", "secret"),
        events.MailFrom("a@example.com"),
        events.RcptTo("b@example.com"),
        events.Data(),
        events.Rset(),
        events.Noop(),
        events.Quit(),
    ]
    verbs = {command_line(event).split(" ", 1)[0] for event in sent}
    assert verbs <= COMMANDS.keys()
