"""``cxrpilot scp`` (the DICOM C-STORE SCP on its own) and ``cxrpilot pacs pull`` (DICOMweb)."""

from __future__ import annotations

import argparse
import logging
import sys

from cxrpilot.cli._groups import add_group
from cxrpilot.cli._serve import _common, _emit, _settings


def add_dicom_options(p: argparse.ArgumentParser, *, port_required: bool = False) -> None:
    """--dicom-port, --ae-title, --dicom-host (shared by ``serve`` and ``scp``)."""
    p.add_argument(
        "--dicom-port",
        type=int,
        default=None,
        required=port_required,
        help="run a DICOM C-STORE SCP on this port ($CXRPILOT_DICOM_PORT)",
    )
    p.add_argument(
        "--ae-title", default=None, help="the SCP's AE title ($CXRPILOT_DICOM_AE_TITLE, CXRPILOT)"
    )
    p.add_argument(
        "--dicom-host",
        default=None,
        help="address the SCP listens on ($CXRPILOT_DICOM_HOST, 127.0.0.1; 0.0.0.0 for a PACS "
        "on another machine)",
    )


def dicom_overrides(args: argparse.Namespace) -> dict:
    return {
        "dicom_port": args.dicom_port,
        "dicom_ae_title": args.ae_title,
        "dicom_host": args.dicom_host,
    }


def add_server_options(p: argparse.ArgumentParser, *, quantize: bool = False) -> None:
    """The DICOM options, --worker-threads, --model (and --quantize), --dev: what ``serve`` and
    ``scp`` (the two commands that run the draft worker) share."""
    from cxrpilot.vocabulary import QUANTIZATIONS

    add_dicom_options(p)
    p.add_argument("--worker-threads", type=int, default=None, help="background draft threads")
    p.add_argument("--model", default=None, help="draft model spec ('expert', 'janus:PATH'...)")
    if quantize:
        p.add_argument("--quantize", default=None, choices=QUANTIZATIONS,
                       help="with a Janus draft model on the CPU: decode with 8- or 4-bit weights")
    p.add_argument(
        "--dev", action="store_true", help="development mode (placeholder secrets allowed)"
    )


def server_overrides(args: argparse.Namespace) -> dict:
    """The settings :func:`add_server_options` gives (None: not given, the environment's)."""
    return {
        **dicom_overrides(args),
        "worker_threads": args.worker_threads,
        "draft_model": args.model,
        "draft_quantize": getattr(args, "quantize", None),
        "environment": "development" if args.dev else None,
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    s = subparsers.add_parser(
        "scp",
        help="Receive images from a PACS by DICOM C-STORE (without the web app).",
        description="Run the DICOM C-STORE SCP and the draft worker on the workstation's "
        "database: CR/DX chest radiographs become cases in their exam and are drafted; others "
        "are refused with a DICOM failure status and a reason. See docs/integration.md.",
    )
    add_server_options(s)
    _common(s)
    s.set_defaults(handler=run_scp)

    sub = add_group(
        subparsers, "pacs", "Pull CR/DX studies from a PACS (DICOMweb QIDO-RS / WADO-RS).",
        "Work with a PACS over DICOMweb.",
    )
    pull = sub.add_parser(
        "pull",
        help="query the PACS for CR/DX studies and retrieve the new ones",
        description="Query a PACS (QIDO-RS) for CR/DX studies dated --since or later and "
        "retrieve (WADO-RS) the instances not stored yet. They become cases in their exam; "
        "their drafts are queued for the workstation's draft worker (`cxrpilot serve` or "
        "`cxrpilot scp` drafts them).",
    )
    pull.add_argument(
        "--url", default=None, help="the PACS's DICOMweb root ($CXRPILOT_PACS_URL), e.g. "
        "http://pacs:8042/dicom-web"
    )
    pull.add_argument("--since", default=None, help="study date YYYY-MM-DD (default: all)")
    pull.add_argument(
        "--retry-refused", action="store_true", help="retrieve again the instances earlier "
        "pulls were refused (they are remembered in the database and skipped otherwise)"
    )
    pull.add_argument("--dev", action="store_true", help="development mode")
    _common(pull)
    pull.set_defaults(handler=run_pull)


def run_scp(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from cxrpilot.workstation import create_app

    settings = _settings(args, **server_overrides(args))
    if settings.dicom_port is None:
        from cxrpilot.errors import CxrpilotError

        raise CxrpilotError("no DICOM port: give --dicom-port N or set CXRPILOT_DICOM_PORT")
    app = create_app(settings)  # migrates the schema first
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with app.router.lifespan_context(app):
            scp = app.state.ws.inbound.scp
            print(
                f"cxrpilot DICOM SCP {scp.ae_title} on {scp.host}:{scp.port} (database: "
                f"{settings.resolved_database_url.split(':', 1)[0]}, data: {settings.data_dir})",
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()

    asyncio.run(serve())
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from cxrpilot.workstation import create_app

    settings = _settings(
        args,
        pacs_url=args.url,
        environment="development" if args.dev else None,
        worker_threads=0,  # the server's worker drafts what is pulled
        dicom_port=None,
    )
    app = create_app(settings)
    state = app.state.ws
    try:
        report = state.inbound.pull(since=args.since, retry_refused=args.retry_refused).to_dict()
    finally:
        state.engine.dispose()
    lines = [
        f"{report['url']}: {report['studies']} CR/DX studies"
        + (f" since {report['since']}" if report["since"] else "")
        + f", {report['stored']} images stored, {report['known']} already there, "
        f"{len(report['refused'])} refused; cases {report['cases'] or 'none'}"
        + (f"; {report['skipped']} refused before, not retrieved again (--retry-refused)"
           if report["skipped"] else "")
        + (f"; {report['forgotten']} earlier refusals forgotten" if report["forgotten"] else "")
    ]
    lines += [f"  refused {r['sop']}: {r['reason']}" for r in report["refused"]]
    _emit(args, report, "\n".join(lines))
    return 0
