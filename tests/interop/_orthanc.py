"""A real Orthanc (Debian's ``orthanc`` + ``orthanc-dicomweb``) on loopback, for tests.

:class:`Orthanc` writes a throwaway JSON configuration and storage folder, starts the server
on free HTTP and DICOM ports, waits until its REST API answers, and can be stopped, killed
and started again on the same ports and storage (to test a PACS that goes down mid-send).
``find_orthanc()`` says where the binary and the DICOMweb plugin are, or why not.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: Where Debian puts the server and its DICOMweb plugin (override with the variables).
ORTHANC_BINARIES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
DICOMWEB_PLUGINS = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)
INSTALL_HINT = (
    "apt-get install -y orthanc orthanc-dicomweb dcmtk (.ci/run does), or set CXRPILOT_ORTHANC "
    "and CXRPILOT_ORTHANC_DICOMWEB to the binary and the plugin"
)


_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A TCP port free on loopback right now, and not handed out before in this test run:
    the kernel may give the same free port to two calls in a row (an Orthanc once got one
    port for both HTTP and DICOM and failed to start)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


def find_orthanc() -> tuple[str | None, str | None, str]:
    """``(binary, dicomweb_plugin, problem)``: ``problem`` is "" when both were found."""
    chosen = os.environ.get("CXRPILOT_ORTHANC")
    if chosen:
        binary = chosen if os.access(chosen, os.X_OK) else None
        if binary is None:
            return None, None, f"CXRPILOT_ORTHANC={chosen!r} is not an executable file"
    else:
        binary = shutil.which("Orthanc") or next(
            (p for p in ORTHANC_BINARIES if os.access(p, os.X_OK)), None
        )
    plugin = os.environ.get("CXRPILOT_ORTHANC_DICOMWEB") or next(
        (p for p in DICOMWEB_PLUGINS if Path(p).exists()), None
    )
    if plugin and not Path(plugin).is_file():
        return binary, None, f"the DICOMweb plugin {plugin!r} does not exist: {INSTALL_HINT}"
    if not binary:
        return None, plugin, f"Orthanc is not installed (no {ORTHANC_BINARIES[0]}): {INSTALL_HINT}"
    if not plugin:
        return binary, None, (
            f"the Orthanc DICOMweb plugin is not installed (no {DICOMWEB_PLUGINS[0]}): "
            f"{INSTALL_HINT}"
        )
    return binary, plugin, ""


@dataclass
class Modality:
    """A DICOM peer Orthanc knows (it can C-STORE to it): AE title, host, port."""

    aet: str
    port: int
    host: str = "127.0.0.1"


@dataclass
class Orthanc:
    """One Orthanc server on loopback with its own configuration and storage.

    Attributes
    ----------
    url : str
        REST API root, ``http://127.0.0.1:{http_port}``.
    dicomweb_url : str
        DICOMweb root (QIDO-RS, WADO-RS, STOW-RS), ``{url}/dicom-web``.
    aet, dicom_port : str, int
        Orthanc's own AE title and DIMSE port.
    users : dict
        HTTP Basic users; empty: no authentication (loopback only). :meth:`client` and the
        REST helpers log in as the first one.
    lua : tuple of str
        Lua scripts (source) loaded at start, e.g. a ``ReceivedInstanceFilter`` that
        refuses some instances.
    modalities : dict
        Peers written into the configuration (``"cxrpilot"``: cxrpilot's SCP, by default
        AE ``CXRPILOT`` on :attr:`scp_port`, a port reserved for the test's SCP).
    """

    folder: Path
    binary: str
    plugin: str
    aet: str = "ORTHANC"
    scp_aet: str = "CXRPILOT"
    http_port: int = field(default_factory=free_port)
    dicom_port: int = field(default_factory=free_port)
    scp_port: int = field(default_factory=free_port)
    modalities: dict[str, Modality] = field(default_factory=dict)
    #: HTTP users (name: password); when given, every REST and DICOMweb call needs one.
    users: dict[str, str] = field(default_factory=dict)
    #: Lua scripts the server loads, as source text (e.g. a ``ReceivedInstanceFilter``).
    lua: tuple[str, ...] = ()
    process: subprocess.Popen | None = None
    _log: Any = None

    def __post_init__(self) -> None:
        self.modalities.setdefault("cxrpilot", Modality(self.scp_aet, self.scp_port))

    # -- paths and URLs --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    @property
    def config_path(self) -> Path:
        return self.folder / "orthanc.json"

    @property
    def log_path(self) -> Path:
        return self.folder / "orthanc.log"

    def configuration(self) -> dict[str, Any]:
        """The JSON configuration the server runs with."""
        storage = self.folder / "storage"
        return {
            "Name": f"cxrpilot-test-{self.http_port}",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "StorageCompression": False,
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "HttpThreadsCount": 8,
            "RemoteAccessAllowed": False,  # loopback only
            "AuthenticationEnabled": bool(self.users),  # loopback: none unless users given
            "RegisteredUsers": dict(self.users),
            "DicomServerEnabled": True,
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "DicomThreadsCount": 4,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowEcho": True,
            "DicomScuTimeout": 10,
            "DicomAssociationCloseDelay": 0,
            "DicomModalities": {
                name: [m.aet, m.host, m.port] for name, m in self.modalities.items()
            },
            "DicomModalitiesInDatabase": False,
            "OverwriteInstances": False,
            "StableAge": 1,
            "SaveJobs": False,
            "ConcurrentJobs": 2,
            "Plugins": [self.plugin],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True},
            "DeidentifyLogs": True,
            "LuaScripts": [str(p) for p in self._lua_paths()],
        }

    def _lua_paths(self) -> list[Path]:
        paths = []
        for i, source in enumerate(self.lua):
            path = self.folder / f"script-{i}.lua"
            path.write_text(source)
            paths.append(path)
        return paths

    @property
    def auth(self) -> tuple[str, str] | None:
        """``(user, password)`` the helpers log in with, or ``None``."""
        return next(iter(self.users.items()), None)

    # -- life cycle ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> Orthanc:
        """Start the server (same ports and storage as before) and wait until it answers."""
        if self.running:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.configuration(), indent=2))
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Orthanc exited with status {self.process.returncode} at start; "
                    f"its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/system", auth=self.auth, timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"Orthanc did not answer on {self.url} within {timeout:.0f} s; its log ends:\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server gracefully (SIGTERM; SIGKILL past ``timeout``)."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash or a pulled cable would."""
        self._end(signal.SIGKILL, 10.0)

    def restart(self, *, kill: bool = False) -> Orthanc:
        """Stop (or kill) and start again on the same ports and storage."""
        self.kill() if kill else self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _end(self, sig: int, timeout: float) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # -- REST helpers ----------------------------------------------------------------------
    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, auth=self.auth)

    def upload(self, data: bytes) -> dict[str, Any]:
        """Store one DICOM file over REST (``POST /instances``); Orthanc's answer (``ID``,
        ``ParentStudy``, ``Status``: ``Success`` or ``AlreadyStored``)."""
        with self.client() as c:
            r = c.post("/instances", content=data, headers={"Content-Type": "application/dicom"})
        r.raise_for_status()
        return r.json()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as c:
            r = c.get(path, **kwargs)
        r.raise_for_status()
        return r

    def instances(self) -> list[str]:
        """Orthanc ids of every stored instance."""
        return list(self.get("/instances").json())

    def add_modality(self, name: str, aet: str, port: int, host: str = "127.0.0.1") -> None:
        """Declare (or change) a DICOM peer at run time (``PUT /modalities/{name}``)."""
        with self.client() as c:
            r = c.put(f"/modalities/{name}", json={"AET": aet, "Host": host, "Port": port})
        r.raise_for_status()
        self.modalities[name] = Modality(aet, port, host)

    def store_to(
        self, modality: str, resources: list[str], *, timeout: float = 60.0
    ) -> httpx.Response:
        """C-STORE ``resources`` (Orthanc ids of instances, series or studies) to a declared
        peer, synchronously (``POST /modalities/{name}/store``). The response is returned
        as it is (a failed store is an HTTP error status from Orthanc), not raised."""
        with self.client(timeout) as c:
            return c.post(
                f"/modalities/{modality}/store",
                json={"Resources": resources, "Synchronous": True, "Timeout": int(timeout)},
            )

    def echo(self, modality: str) -> bool:
        """C-ECHO from Orthanc to a declared peer."""
        with self.client() as c:
            return c.post(f"/modalities/{modality}/echo", json={}).status_code == 200
