"""The users file: plain and hashed passwords, APOP secrets, the instructor login."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.pop3.users import (
    Credentials,
    Users,
    UsersFileError,
    apop_digest,
    hash_password,
    verify_password,
)


@pytest.mark.parametrize("scheme", ["scrypt", "pbkdf2_sha256"])
def test_hashed_passwords_verify_and_reject(scheme: str) -> None:
    stored = hash_password("correct horse", scheme)  # the default (real) cost, once
    assert stored.startswith(scheme + "$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct horsE")
    assert hash_password("correct horse", scheme, work=1024) != stored  # salted


def test_the_cost_is_kept_in_the_hash() -> None:
    stored = hash_password("pw", "scrypt", work=1024)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password(stored, "pw")


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown password scheme"):
        hash_password("x", "md5")


def test_plain_passwords_compare_exactly() -> None:
    assert verify_password("s3cret", "s3cret")
    assert not verify_password("s3cret", "s3cret ")
    assert not verify_password("scrypt$garbage", "scrypt$garbage")  # a malformed hash never matches


def test_users_file_format(tmp_path: Path) -> None:
    path = tmp_path / "userlogincred.txt"
    path.write_text(
        "# students\n\nAda@Example.org   pass with  spaces  \nbob@example.org "
        + hash_password("bob-pw", "pbkdf2_sha256", work=1000)
        + "\n"
    )
    users = Users.from_file(path)
    # the login matches the account ignoring case; the mailbox is named by its key
    assert users.check_password("ADA@example.org", "pass with  spaces") == Credentials(
        "ADA@example.org", "ada@example.org"
    )
    assert users.check_password("bob@example.org", "bob-pw") is not None
    assert users.check_password("bob@example.org", "ada-pw") is None
    assert users.check_password("nobody@example.org", "") is None


def test_a_bad_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    path.write_text("ada@example.org pw\nlonely@example.org\n")
    with pytest.raises(UsersFileError, match=r"users\.txt:2: expected 'address password'"):
        Users.from_file(path)


def test_instructor_opens_any_mailbox_with_their_own_password() -> None:
    users = Users.parse("instructor teach\nada@example.org ada-pw\n", instructor="instructor")
    assert users.check_password("instructor+ada@example.org", "teach") == Credentials(
        "instructor+ada@example.org", "ada@example.org"
    )
    assert users.check_password("instructor+ada@example.org", "ada-pw") is None
    assert users.check_password("Instructor", "teach") == Credentials("Instructor", None)
    assert users.check_password("instructor+", "teach") == Credentials("instructor+", None)
    assert users.check_password("instructor", "wrong") is None
    assert users.name_a_mailbox() == (
        "[AUTH] name a mailbox: instructor+ADDRESS, e.g. instructor+ada@example.org"
    )


def test_an_account_added_in_code_logs_in() -> None:
    users = Users.parse("ada@example.org ada-pw\n", instructor="instructor")
    users = users.with_account("instructor", "generated")
    assert users.check_password("instructor+ada@example.org", "generated") is not None
    assert users.check_password("ada@example.org", "ada-pw") is not None


def test_without_an_instructor_plus_logins_are_ordinary_names() -> None:
    users = Users.parse("instructor teach\n")
    assert users.check_password("instructor+ada@example.org", "teach") is None


def test_apop_needs_a_plain_secret() -> None:
    users = Users.parse("ada pw\nbob " + hash_password("pw", "pbkdf2_sha256", work=1000) + "\n")
    stamp = "<1896.697170952@dbc.mtview.ca.us>"
    assert users.check_apop("ada", stamp, apop_digest(stamp, "pw")) is not None
    assert users.check_apop("ada", stamp, apop_digest(stamp, "wrong")) is None
    assert users.check_apop("bob", stamp, apop_digest(stamp, "pw")) is None


def test_apop_digest_matches_rfc_1939_example() -> None:
    # RFC 1939 §7: the example digest for the secret "tanstaaf".
    digest = apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf")
    assert digest == "c4c9334bac560ecc979e58001b3e22fb"


def test_addresses_are_compared_ignoring_case() -> None:
    users = Users.parse("instructor teach\n", instructor="instructor")
    assert users.target("instructor+ODD@Example.ORG") == ("instructor", "odd@example.org")
    assert users.target("INSTRUCTOR+odd@example.org") == ("instructor", "odd@example.org")


def test_a_login_in_any_case_opens_its_accounts_mailbox() -> None:
    users = Users.parse("odd@example.org odd-pw\n")
    assert users.check_password("ODD@Example.org", "odd-pw") == Credentials(
        "ODD@Example.org", "odd@example.org"
    )


def test_two_lines_for_one_mailbox_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    path.write_text("ODD@example.org upper-pw\nada@example.org pw\nodd@EXAMPLE.org lower-pw\n")
    with pytest.raises(
        UsersFileError,
        match=r"users\.txt:3: odd@EXAMPLE\.org is the mailbox of line 1 \(ODD@example\.org\) again",
    ):
        Users.from_file(path)


def test_apop_as_the_instructor_without_a_mailbox_names_none() -> None:
    users = Users.parse("instructor teach\n", instructor="instructor")
    stamp = "<1896.697170952@dbc.mtview.ca.us>"
    digest = apop_digest(stamp, "teach")
    assert users.check_apop("instructor", stamp, digest) == Credentials("instructor", None)
    assert users.check_apop("instructor+Ada@Example.org", stamp, digest) == Credentials(
        "instructor+Ada@Example.org", "ada@example.org"
    )


@pytest.mark.parametrize(
    ("text", "all_plain"),
    [
        ("ada pw\ninstructor teach\n", True),
        ("ada pw\nbob " + hash_password("pw", work=1024) + "\n", False),
        ("bob " + hash_password("pw", "pbkdf2_sha256", work=1000) + "\n", False),
        ("# nobody\n", False),
    ],
)
def test_all_plain_says_whether_apop_could_work_for_every_account(
    text: str, all_plain: bool
) -> None:
    assert Users.parse(text).all_plain is all_plain
