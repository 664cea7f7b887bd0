"""The explainer on dialogues written out: pairing, pipelining, the data, the codes."""

from __future__ import annotations

from app.explain import explain, format_steps

PIPELINED = [
    "S: 220 sink.test ESMTP",
    "C: EHLO client.test",
    "S: 250-sink.test",
    "S: 250-PIPELINING",
    "S: 250-SIZE 10240000",
    "S: 250 ENHANCEDSTATUSCODES",
    "C: MAIL FROM:<a@example.com> SIZE=120",
    "C: RCPT TO:<b@example.com>",
    "C: RCPT TO:<c@example.com> NOTIFY=FAILURE",
    "C: DATA",
    "S: 250 2.1.0 Ok",
    "S: 550 5.1.1 No such user",
    "S: 250 2.1.5 Ok",
    "S: 354 End data with <CR><LF>.<CR><LF>",
    "C: <120 bytes of message data>",
    "S: 250 2.0.0 Ok: queued",
    "C: QUIT",
    "S: 221 2.0.0 Bye",
]


def terms(line_notes: tuple) -> list[str]:  # type: ignore[type-arg]
    return [note.term for note in line_notes]


def test_each_pipelined_reply_is_paired_with_the_command_it_answers() -> None:
    steps = explain(PIPELINED)
    pairs = [(s.command[0].text if s.command else None, s.reply[0].text) for s in steps]
    assert pairs[2:6] == [
        ("MAIL FROM:<a@example.com> SIZE=120", "250 2.1.0 Ok"),
        ("RCPT TO:<b@example.com>", "550 5.1.1 No such user"),
        ("RCPT TO:<c@example.com> NOTIFY=FAILURE", "250 2.1.5 Ok"),
        ("DATA", "354 End data with <CR><LF>.<CR><LF>"),
    ]
    assert [s.group for s in steps] == [None, None, 1, 1, 1, 1, None, None]
    assert steps[0].command == ()  # the greeting answers no command


def test_every_word_is_explained_with_its_section() -> None:
    steps = explain(PIPELINED)
    mail, refused = steps[2], steps[3]
    assert terms(mail.command[0].notes) == ["MAIL", "SIZE=120"]
    assert [str(n.ref) for n in mail.command[0].notes] == ["RFC 5321 §4.1.1.2", "RFC 1870 §6"]
    code, enhanced = refused.reply[0].notes
    assert (code.term, str(code.ref)) == ("550", "RFC 5321 §4.2.3")
    assert enhanced.term == "5.1.1"
    assert "no such mailbox" in enhanced.meaning
    assert enhanced.ref is not None
    assert enhanced.ref.url == "https://www.rfc-editor.org/rfc/rfc3463#section-3.2"
    assert terms(steps[1].reply[2].notes) == ["SIZE", "10240000"]
    assert "10,240,000 octets" in steps[1].reply[2].notes[1].meaning
    assert str(steps[1].reply[3].notes[0].ref) == "RFC 2034 §4"
    assert "NOTIFY=FAILURE" in terms(steps[4].command[0].notes)
    assert str(steps[6].reply[0].notes[0].ref) == "RFC 5321 §4.2.5"  # the reply to the data


def test_raw_message_data_is_summarised_with_its_dot_stuffing() -> None:
    steps = explain(
        [
            "C: DATA",
            "S: 354 go ahead",
            "C: Subject: dots",
            "C: ",
            "C: ..stuffed",
            "C: .not stuffed",
            "C: .",
            "S: 250 OK",
        ]
    )
    data = steps[1]
    assert data.kind == "data"
    assert data.command[0].text == "<4 lines, 42 octets of message data>"
    assert data.command[1].text == "."
    notes = {note.term: note for note in data.command[0].notes}
    assert '1 line(s) began with ".."' in notes[".."].meaning
    assert str(notes[".."].ref) == "RFC 5321 §4.5.2"
    assert "was not dot-stuffed" in notes["."].meaning
    assert data.reply[0].text == "250 OK"


def test_unknown_words_are_said_to_be_unknown() -> None:
    steps = explain(
        [
            "S: 220 hi",
            "C: EHLO x",
            "S: 250-hi",
            "S: 250-FROBNICATE",
            "S: 250 XSHADOW",
            "C: WIBBLE",
            "S: 599 5.9.9 what",
            "C: MAIL FROM:<a@b> FROB=1",
            "S: 250 2.1.99 odd",
        ]
    )
    keyword, local = steps[1].reply[1].notes[0], steps[1].reply[2].notes[0]
    assert (keyword.known, keyword.ref) == (False, None)
    assert "not a ehlo keyword this explainer knows" in keyword.meaning.lower()
    assert "local extension" in local.meaning
    verb = steps[2].command[0].notes[0]
    assert (verb.term, verb.known, verb.ref) == ("WIBBLE", False, None)
    code, enhanced = steps[2].reply[0].notes
    assert not code.known
    assert "permanent negative completion" in code.meaning  # the class is still known
    assert not enhanced.known
    assert "the subject .9. is not one this explainer knows" in enhanced.meaning
    assert not steps[3].command[0].notes[1].known
    assert "the detail .99 is not one" in steps[3].reply[0].notes[1].meaning


def test_login_answers_and_tls_are_explained() -> None:
    steps = explain(
        [
            "C: STARTTLS",
            "S: 220 Ready to start TLS",
            "C: EHLO x",
            "S: 250 hi",
            "C: AUTH LOGIN",
            "S: 334 VXNlcm5hbWU6",
            "C: <redacted>",
            "S: 334 UGFzc3dvcmQ6",
            "C: <redacted>",
            "S: 235 2.7.0 Authentication successful",
        ]
    )
    assert [s.kind for s in steps] == ["exchange", "note", "exchange", "exchange", "login", "login"]
    assert str(steps[0].reply[0].notes[0].ref) == "RFC 3207 §4"
    assert str(steps[1].notes[0].ref) == "RFC 3207 §4.2"
    assert steps[4].command[0].notes[0].term == "<redacted>"
    assert str(steps[5].reply[0].notes[0].ref) == "RFC 4954 §6"


def test_the_text_form_announces_a_group_once_and_marks_unknown_words() -> None:
    text = format_steps(explain([*PIPELINED, "C: WIBBLE", "S: 500 unknown"]))
    assert sum(line.startswith("-- pipelined group 1:") for line in text) == 1
    assert "     ? WIBBLE: Not a command this explainer knows" in "\n".join(text)
    assert "     = 221: Goodbye: the server closes the connection. [RFC 5321 §4.1.1.10]" in text


def test_a_dialogue_cut_short_keeps_what_it_has() -> None:
    steps = explain(["S: 220 hi", "C: DATA", "S: 354 go", "C: half a mess", "C: EHLO"])
    assert steps[-1].kind == "data"
    assert 'no line "." came' in steps[-1].notes[0].meaning
    assert explain(["S: 250-first line of a reply that never ends"])[0].reply
    assert explain([]) == []
