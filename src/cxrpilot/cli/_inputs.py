"""What the sub-commands that read text files share: the ``--encoding`` check and remedy."""

from __future__ import annotations

#: The remedy the CLI gives for an undecodable input (its commands that read text have
#: ``--encoding``); passed to :func:`cxrpilot.data.read_text` / :func:`cxrpilot.data.read_csv`.
ENCODING_FIX = "re-save the file as UTF-8 or pass --encoding with the file's encoding (e.g. latin-1, cp1252)"


def check_encoding(encoding: str) -> str:
    """The ``--encoding`` value, or :class:`InvalidInputError` if Python does not know it."""
    import codecs

    from cxrpilot.errors import InvalidInputError

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InvalidInputError(
            f"unknown encoding {encoding!r} given with --encoding; expected e.g. utf-8, latin-1, cp1252"
        ) from None
    return encoding
