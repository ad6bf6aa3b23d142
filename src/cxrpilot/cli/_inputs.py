"""What sub-commands share: the ``--encoding`` option, its check and remedy, the ``--data`` folder option."""

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


def add_encoding_option(parser) -> None:
    """``--encoding NAME``: the text encoding of the input files (default utf-8; the command
    checks it with :func:`check_encoding`)."""
    parser.add_argument("--encoding", default="utf-8",
                        help="text encoding of the input files (default utf-8)")


def add_data_option(parser) -> None:
    """``--data DIR``: the shared data folder, by default ``$CXRPILOT_DATA``."""
    import os

    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA"), metavar="DIR",
                        help="the shared data folder (default: $CXRPILOT_DATA)")


def data_folder(args) -> str:
    """The ``--data`` value, or a one-line error naming the option and the variable."""
    from cxrpilot.errors import InvalidInputError

    if not args.data:
        raise InvalidInputError("no data folder given: pass --data DIR or set CXRPILOT_DATA")
    return args.data
