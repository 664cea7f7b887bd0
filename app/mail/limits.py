"""Length limits of the Internet message format, each with the rule it comes from."""

from __future__ import annotations

MAX_LINE = 998  # RFC 5322 §2.1.1: a line MUST be no more than 998 octets, excluding CRLF
MAX_HEADER_LINE = 78  # RFC 5322 §2.1.1: a line SHOULD be no more than 78 characters
MAX_ENCODED_WORD = 75  # RFC 2047 §2: an encoded-word may not be more than 75 characters long
MAX_ENCODED_WORD_LINE = 76  # RFC 2047 §2: a header line holding an encoded-word, at most 76
MAX_QP_LINE = 76  # RFC 2045 §6.7 rule 5: encoded lines no more than 76 characters
MAX_BASE64_LINE = 76  # RFC 2045 §6.8: encoded lines no more than 76 characters
MAX_BOUNDARY = 70  # RFC 2046 §5.1.1: a boundary is 1 to 70 characters
MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3: a path is at most 256 octets, including "<" and ">"
MAX_RAW_SPACE = 8  # our choice: longer runs of blanks between words travel inside encoded-words
