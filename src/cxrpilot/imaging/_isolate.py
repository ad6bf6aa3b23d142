"""Decoding untrusted files in a contained worker process, with a time and memory budget.

Native codecs (GDCM, libjpeg, OpenJPEG, zlib) run inside the Python process that calls
them: one that aborts (``SIGABRT``) or runs away takes the process with it. A server
therefore never decodes untrusted pixels itself. :class:`IsolatedLoader` runs each decode
in a fresh child process started from a ``forkserver`` (``spawn`` where there is none, so
the child never inherits a threaded parent's state), in which, before any input is read:

- ``RLIMIT_AS`` caps the address space at what the child already maps plus
  ``memory_mb`` (an allocation past it fails with ``MemoryError`` in Python, or kills the
  child in native code);
- ``RLIMIT_CPU`` caps its CPU time a little above ``timeout_s`` (the parent also kills it
  at ``timeout_s`` wall-clock time);
- ``RLIMIT_CORE`` is 0 (no core dump of patient data) and its standard output and error
  go to ``/dev/null`` (codecs print to them; nothing of the input reaches a log).

The parent reads one pickled result from a pipe. A :class:`~cxrpilot.errors.CxrpilotError`
raised in the child is raised again as it was; a child that dies becomes a
:class:`~cxrpilot.errors.DecoderCrashError` (an ``InvalidImageError``), a budget overrun a
:class:`~cxrpilot.errors.DecodeLimitError` (an ``UnsupportedImageError``). A semaphore
bounds the decodes running at once (:class:`~cxrpilot.errors.DecoderBusyError` after
``wait_s`` without a free slot).

A child costs a fork of the preloaded fork server (about 10-30 ms) on top of the decode.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cxrpilot.errors import (
    CxrpilotError,
    DecodeLimitError,
    DecoderBusyError,
    DecoderCrashError,
)
from cxrpilot.imaging._radiograph import Radiograph

__all__ = [
    "IsolatedLoader",
    "load_isolated",
    "load_for_storage",
    "load_for_exam",
    "ExamImage",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_MAX_CONCURRENT",
]

DEFAULT_TIMEOUT_S = 30.0
"""Wall-clock budget of one decode (a 20 MP JPEG 2000 decodes in 1-3 s on one core)."""

DEFAULT_MEMORY_MB = 2048
"""Address space a decode may add (a 40 MP image peaks near 1.6 GB, see DEFAULT_MAX_PIXELS)."""

DEFAULT_MAX_CONCURRENT = 2
"""Decodes running at once per :class:`IsolatedLoader`."""

_PRELOAD = [
    "numpy",
    "PIL.Image",
    "pydicom",
    "pydicom.pixels",
    "cxrpilot.imaging._load",
    "cxrpilot.imaging._dicom",
    "cxrpilot.imaging._deid",
    "cxrpilot.imaging._identity",
    "cxrpilot.imaging._raster",
    "cxrpilot.imaging._view",
    "cxrpilot.imaging._isolate",
]
_CONTEXT_LOCK = threading.Lock()
_CONTEXT: list[Any] = []
_LAUNCHING = threading.local()


def _without_main(get_preparation_data: Callable[[str], dict]) -> Callable[[str], dict]:
    """Wrap multiprocessing's preparation data so that, for our workers only, the child
    does not re-import the parent's ``__main__`` (a server's or a script's top level code
    has no business running in a decode worker, and costs time on each decode)."""

    def prepare(name: str) -> dict:
        data = get_preparation_data(name)
        if getattr(_LAUNCHING, "active", False):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    prepare._cxrpilot = True  # type: ignore[attr-defined]
    return prepare


def _context() -> Any:
    """The multiprocessing context: forkserver (preloaded with the imaging modules) or spawn."""
    with _CONTEXT_LOCK:
        if not _CONTEXT:
            from multiprocessing import spawn

            if not getattr(spawn.get_preparation_data, "_cxrpilot", False):
                spawn.get_preparation_data = _without_main(spawn.get_preparation_data)
            if "forkserver" in mp.get_all_start_methods():
                ctx = mp.get_context("forkserver")
                ctx.set_forkserver_preload(_PRELOAD)
            else:  # pragma: no cover - Windows
                ctx = mp.get_context("spawn")
            _CONTEXT.append(ctx)
        return _CONTEXT[0]


def _address_space() -> int | None:
    """Bytes of address space this process maps now (Linux), or None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _limit_child(memory_bytes: int | None, cpu_s: int | None) -> None:
    import resource

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cpu_s is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 2))
    if memory_bytes is not None:
        used = _address_space()
        if used is not None:
            limit = used + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child(conn: Any, fn: Callable[..., Any], args: tuple, kwargs: dict, limits: tuple) -> None:
    """Worker-process entry point: apply the limits, run ``fn``, send one result."""
    import logging

    logging.disable(logging.CRITICAL)  # nothing of the input reaches a handler
    try:
        _limit_child(*limits)
        from pydicom import config

        config.settings.reading_validation_mode = config.IGNORE
        result: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except CxrpilotError as exc:
        result = ("error", exc)
    except MemoryError:
        result = ("memory", None)
    except RecursionError:
        result = ("unexpected", "RecursionError")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent by type name only
        result = ("unexpected", type(exc).__name__)
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("memory", None))
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
        conn.send(("unexpected", f"{type(exc).__name__} while returning the result"))
    finally:
        conn.close()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class IsolatedLoader:
    """Decode untrusted images in contained worker processes, a few at a time.

    Parameters
    ----------
    timeout_s : float, default 30
        Wall-clock budget of one decode; the child is killed past it.
    memory_mb : int, default 2048
        Address space a decode may use on top of what the child maps at its start.
    max_concurrent : int, default 2
        Decodes running at once through this loader (a semaphore); set it to the cores
        the server may spend on decoding.
    wait_s : float, default 60
        How long a call waits for a free slot before raising DecoderBusyError.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> loader = IsolatedLoader(timeout_s=60, max_concurrent=1)
    >>> xr = loader(get_testdata_file("RG1_UNCR.dcm"))
    >>> xr.shape, xr.view_position
    ((1955, 1841), 'PA')
    >>> import os
    >>> loader.run(os.abort, source="abort()")
    Traceback (most recent call last):
    ...
    cxrpilot.errors.DecoderCrashError: the decoder crashed (SIGABRT) on abort(); ...
    """

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int | None = DEFAULT_MEMORY_MB,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        wait_s: float = 60.0,
    ) -> None:
        from cxrpilot.errors import InvalidInputError

        if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and timeout_s > 0):
            raise InvalidInputError(f"timeout_s={timeout_s!r}: expected a positive number")
        if memory_mb is not None and not (isinstance(memory_mb, int) and memory_mb > 0):
            raise InvalidInputError(f"memory_mb={memory_mb!r}: expected a positive integer or None")
        if not (isinstance(max_concurrent, int) and max_concurrent > 0):
            raise InvalidInputError(
                f"max_concurrent={max_concurrent!r}: expected a positive integer"
            )
        self.timeout_s = float(timeout_s)
        self.memory_mb = memory_mb
        self.max_concurrent = max_concurrent
        self.wait_s = float(wait_s)
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def __repr__(self) -> str:
        return (
            f"IsolatedLoader(timeout_s={self.timeout_s}, memory_mb={self.memory_mb}, "
            f"max_concurrent={self.max_concurrent})"
        )

    def __call__(self, source: str | os.PathLike[str] | bytes, **load_options: Any) -> Radiograph:
        """:func:`cxrpilot.imaging.load` of ``source`` in a worker process."""
        from cxrpilot.imaging._load import load

        return self.run(load, (_portable(source),), load_options, source=_name(source))

    def load_for_storage(
        self, data: bytes, **load_options: Any
    ) -> tuple[Radiograph, bytes | None, str]:
        """:func:`load_for_storage` of ``data`` in a worker process."""
        return self.run(load_for_storage, (bytes(data),), load_options, source=_name(data))

    def load_for_exam(self, data: bytes, **load_options: Any) -> ExamImage:
        """:func:`load_for_exam` of ``data`` in a worker process."""
        return self.run(load_for_exam, (bytes(data),), load_options, source=_name(data))

    def run(
        self,
        fn: Callable[..., Any],
        args: tuple = (),
        kwargs: dict[str, Any] | None = None,
        *,
        source: str = "<input>",
    ) -> Any:
        """``fn(*args, **kwargs)`` in a contained worker process (``fn`` must be importable
        by name: a module-level function); ``source`` names the input in errors."""
        if not self._slots.acquire(timeout=self.wait_s):
            raise DecoderBusyError(
                f"all {self.max_concurrent} decode slots stayed busy for {self.wait_s:.0f} s "
                f"while {source} waited; try again in a few seconds"
            )
        try:
            return self._run(fn, args, kwargs or {}, source)
        finally:
            self._slots.release()

    def _run(self, fn: Callable[..., Any], args: tuple, kwargs: dict, source: str) -> Any:
        ctx = _context()
        memory = self.memory_mb * 1024 * 1024 if self.memory_mb is not None else None
        cpu = math.ceil(self.timeout_s) + 1
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(
            target=_child, args=(sender, fn, args, kwargs, (memory, cpu)), daemon=True
        )
        _LAUNCHING.active = True
        try:
            child.start()
        finally:
            _LAUNCHING.active = False
        sender.close()
        deadline = time.monotonic() + self.timeout_s
        status, payload = "timeout", None
        try:
            if receiver.poll(max(0.0, deadline - time.monotonic())):
                try:
                    status, payload = receiver.recv()
                except (EOFError, OSError):
                    status = "died"
        finally:
            if status in ("timeout", "died"):
                child.join(0.5 if status == "died" else 0)
            if child.is_alive():
                child.kill()
            child.join(10)
            receiver.close()
        if status == "ok":
            return payload
        if status == "error":
            raise payload
        if status == "memory":
            raise DecodeLimitError(
                f"image too costly to decode: {source} needs more than the memory budget of "
                f"{self.memory_mb} MB per decode; raise it if the file is trusted",
                limit="memory",
            )
        code = child.exitcode
        if status == "timeout" or code == -signal.SIGXCPU:
            raise DecodeLimitError(
                f"image too costly to decode: {source} took longer than the decode budget of "
                f"{self.timeout_s:g} s; raise it if the file is trusted",
                limit="time",
            )
        if status == "unexpected":
            raise DecoderCrashError(
                f"cannot read {source}: the decoder failed ({payload}); the file is corrupt "
                "or malformed; export it again",
                exception=str(payload),
            )
        if code is not None and code < 0:
            name = _signal_name(-code)
            if name == "SIGKILL" and memory is not None:
                hint = f" (perhaps past the memory budget of {self.memory_mb} MB)"
            else:
                hint = ""
            raise DecoderCrashError(
                f"the decoder crashed ({name}) on {source}{hint}; the file is corrupt or "
                "malformed (the server is unaffected); export it again",
                signal=name,
            )
        raise DecoderCrashError(
            f"the decoder stopped (exit status {code}) on {source} without a result; the "
            "file is corrupt or malformed; export it again",
            signal=None,
        )


def _name(source: Any) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return str(source)


def _portable(source: Any) -> Any:
    if isinstance(source, (bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    return source


def load_for_storage(data: bytes, **load_options: Any) -> tuple[Radiograph, bytes | None, str]:
    """Load ``data`` and, for DICOM, build the de-identified file to store.

    Returns ``(radiograph, dicom_file, note)``: ``dicom_file`` is
    :func:`~cxrpilot.imaging.deidentified_file` (``None`` for PNG/JPEG, or when it cannot be
    built: ``note`` says why; otherwise ``"kept"``). Meant to run in a worker process
    (:meth:`IsolatedLoader.load_for_storage`), so that the server parses no untrusted byte.
    """
    from cxrpilot.imaging._deid import deidentified_file
    from cxrpilot.imaging._load import load

    radiograph = load(data, **load_options)
    if radiograph.format != "dicom":
        return radiograph, None, "not DICOM"
    try:
        return radiograph, deidentified_file(data, source=radiograph.source), "kept"
    except CxrpilotError as exc:
        return radiograph, None, str(exc)


def load_isolated(
    source: str | os.PathLike[str] | bytes,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int | None = DEFAULT_MEMORY_MB,
    **load_options: Any,
) -> Radiograph:
    """:func:`cxrpilot.imaging.load` in a contained worker process.

    A native crash of a codec, a decode past ``timeout_s`` or past ``memory_mb`` become
    errors of this call (:class:`~cxrpilot.errors.DecoderCrashError`,
    :class:`~cxrpilot.errors.DecodeLimitError`) instead of ending the calling process.
    One call, one process; a server bounds concurrent decodes with one shared
    :class:`IsolatedLoader`.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        As for :func:`cxrpilot.imaging.load`.
    timeout_s : float, default 30
        Wall-clock budget of the decode.
    memory_mb : int or None, default 2048
        Address space the decode may add (None: no limit).
    **load_options
        Passed to :func:`cxrpilot.imaging.load` (``check``, ``max_pixels`` ...).

    Returns
    -------
    Radiograph

    Raises
    ------
    InvalidImageError, UnsupportedImageError
        As :func:`cxrpilot.imaging.load`, plus DecoderCrashError (an InvalidImageError)
        and DecodeLimitError (an UnsupportedImageError).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> load_isolated(get_testdata_file("RG1_UNCR.dcm"), timeout_s=60).shape
    (1955, 1841)
    """
    loader = IsolatedLoader(timeout_s=timeout_s, memory_mb=memory_mb, max_concurrent=1)
    return loader(source, **load_options)


@dataclass(frozen=True)
class ExamImage:
    """What :func:`load_for_exam` gives: the radiograph, the de-identified DICOM file to
    store (or None, ``dicom_note`` says why), the exam identifiers of the original header
    (DICOM only), and why it must not be drafted (a lateral or oblique view; "" otherwise).
    """

    radiograph: Radiograph
    dicom_file: bytes | None
    dicom_note: str
    identity: Any  # cxrpilot.imaging._identity.StudyIdentity | None
    not_drafted_reason: str = ""


def load_for_exam(data: bytes, *, check: bool = True, **load_options: Any) -> ExamImage:
    """:func:`load_for_storage`, plus the exam identifiers, keeping non-frontal views.

    With ``check``, an image that passes every check but the view (a lateral or oblique
    chest radiograph, :class:`~cxrpilot.errors.NonFrontalViewError`) is loaded anyway (and
    still checked for size and blankness), with the refusal as ``not_drafted_reason``: an
    exam shows its lateral beside the frontal that is drafted. Any other refusal is raised.
    Meant to run in a worker process (:meth:`IsolatedLoader.load_for_exam`).
    """
    from cxrpilot.errors import NonFrontalViewError
    from cxrpilot.imaging._checks import DEFAULT_MIN_SIDE, check_pixels
    from cxrpilot.imaging._identity import study_identity

    reason = ""
    try:
        radiograph, dicom_file, note = load_for_storage(data, check=check, **load_options)
    except NonFrontalViewError as exc:
        reason = str(exc)
        radiograph, dicom_file, note = load_for_storage(data, check=False, **load_options)
        check_pixels(
            radiograph.pixels,
            min_side=load_options.get("min_side", DEFAULT_MIN_SIDE),
            source=radiograph.source,
        )
    identity = study_identity(data) if radiograph.format == "dicom" else None
    return ExamImage(radiograph, dicom_file, note, identity, reason)
