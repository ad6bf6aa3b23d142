"""The one configuration object of the workstation: :class:`Settings` (env prefix ``CXRPILOT_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cxrpilot.errors import InvalidInputError

__all__ = ["Settings", "get_settings", "PLACEHOLDER_SECRETS"]

#: Secret values that are refused outside development.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "secret", "dev", "development"}
)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/cxrpilot``, else ``~/.local/share/cxrpilot``: the per-user data
    folder, so that running the workstation from a source checkout does not create its data
    (images, database, secrets) inside the checkout. Only the path; nothing is created."""
    import os

    base = os.environ.get("XDG_DATA_HOME")
    return (Path(base) if base else Path.home() / ".local" / "share") / "cxrpilot"


class Settings(BaseSettings):
    """Workstation settings, read from ``CXRPILOT_*`` environment variables.

    Attributes
    ----------
    environment : {"production", "development"}
        Placeholder secrets are refused outside ``"development"``.
    data_dir : Path
        Where the image store lives (``images/``) and, by default, the SQLite database.
        Default: ``$XDG_DATA_HOME/cxrpilot`` (``~/.local/share/cxrpilot``), outside any
        source checkout (:func:`default_data_dir`).
    database_url : str or None
        SQLAlchemy URL. ``None``: ``sqlite:///{data_dir}/cxrpilot.sqlite``. PostgreSQL:
        ``postgresql+psycopg://user:pass@host/db``.
    secret_key : SecretStr or None
        Keys the session and CSRF token digests. ``None``: a random key is created once in
        ``data_dir/secret_key`` (mode 0600) and reused.
    secure_cookies : {"auto", "always", "never"}
        ``auto``: the ``Secure`` flag when the request came over HTTPS (run uvicorn with
        ``--proxy-headers`` behind a TLS proxy).
    session_max_age_s, session_idle_s : int
        Absolute and idle lifetimes of a login session.
    login_max_failures, login_window_s, login_lockout_s : int
        After ``login_max_failures`` failed logins for one user name from one address within
        ``login_window_s``, further logins from there are refused for ``login_lockout_s``.
    login_user_max_failures, login_ip_max_failures : int
        The same for one user name from any address (distributed guessing), and for one
        address whatever the user name (password spraying). Attempts are counted before
        they are checked, so parallel guesses cannot get past the limits.
    import_roots : list of Path
        Server folders that admins and coordinators may import from (nothing when empty).
    max_upload_mb : int
        Largest accepted upload.
    import_checks : bool
        Refuse on import what :func:`cxrpilot.imaging.load` does not take for a frontal chest
        radiograph (its ``check``); false accepts any readable image (research use).
    decode_timeout_s, decode_memory_mb : float, int
        Budget of one upload's decode, run in a contained worker process (see
        :class:`cxrpilot.imaging.IsolatedLoader`): wall-clock seconds and megabytes of
        address space; past either the upload is refused (422), the server is unaffected.
    decode_concurrency, decode_wait_s : int, float
        Uploads decoded at once, and how long one waits for a free slot before a 429.
    worker_threads : int
        Background draft threads (0: no worker in this process, jobs wait in the table).
    draft_model : str or None
        Model spec for :func:`cxrpilot.pipeline.load_drafter` (``None``: the default).
    draft_quantize : {None, "int8", "int4"}
        With a Janus draft model on the CPU: decode with 8- or 4-bit weights (see
        :func:`cxrpilot.models.janus.load`).
    draft_producer : str or None
        ``"module:attribute"`` naming a callable ``Radiograph -> Draft`` used instead of the
        pipeline (for custom deployments and tests). Its report text is stored cleaned, as
        every draft's is (:func:`cxrpilot.models.composer.clean_section`).
    job_lease_s, job_max_attempts : int
        A running job whose lease expired is taken again; after ``job_max_attempts`` crashes
        of the worker it is marked failed.
    reclaim_jobs_on_start : bool
        Put jobs left running by a previous process back to pending at start-up (right for
        one server per database; set false when several servers share a database).
    password_time_cost, password_memory_kib : int
        argon2id cost of new password hashes (defaults: argon2-cffi's RFC 9106 low-memory
        profile, t=3, 64 MiB). Outside development at least t=2 and 19 MiB (OWASP). At most
        ``HASH_CONCURRENCY`` hashes run at once (half the usable cores): a cap **per
        process**, not shared across processes, so run one server process per host
        (docs/workstation.md, *One server process per host*).
    heartbeat_timeout_s : float
        Reading time: active time stops counting this long after the last client event.
    auto_migrate : bool
        Upgrade the database schema to the newest revision when the app starts.
    pacs_store_host, pacs_store_port, pacs_store_ae_title : str, int, str
        Where signed reports go as DICOM SR by C-STORE: the PACS's host, port and AE title
        (``None`` host: no C-STORE). See docs/integration.md, "Outbound".
    pacs_calling_ae_title : str
        cxrpilot's AE title when it sends (default ``CXRPILOT``).
    pacs_stow_url : str or None
        A DICOMweb root to send the SRs to by STOW-RS instead (used when no store host).
    pacs_stow_authorization : SecretStr or None
        The ``Authorization`` header value sent with STOW-RS (e.g. ``Basic ...``,
        ``Bearer ...``).
    pacs_stow_verify : bool
        After a STOW-RS acknowledgement, also find the SR by QIDO-RS before counting it
        sent (for a PACS that acknowledges instances it then drops).
    pacs_timeout_s : float
        Connection, association and response timeout of one send.
    fhir_url : str or None
        A FHIR R4 server's base URL: each signed version of a report is ``PUT`` there as
        ``DiagnosticReport/report-{read}`` (``None``: none).
    fhir_authorization : SecretStr or None
        The ``Authorization`` header value sent to the FHIR server (e.g. ``Bearer ...``).
    outbox_sender : bool
        Run the outbox sender thread in this process (one per database).
    outbox_retry_base_s, outbox_retry_max_s, outbox_max_attempts : float, float, int
        A failed send is tried again ``base * 2**(n-1)`` seconds later (at most ``max``),
        up to ``max_attempts`` times; then it is marked failed (``POST
        /api/outbox/{id}/retry`` queues it again).
    outbound_study_reads : bool
        Also send (and serve as FHIR) the reports of reader-study reads (default: only
        clinical reads, outside a reader study).
    institution_name : str
        The verifying organisation written in signed SRs.
    patient_key_secret : SecretStr or None
        Keys the pseudonymous patient key of exams (HMAC-SHA256 of the DICOM Patient ID,
        which is never stored). ``None``: a random key is created once in
        ``data_dir/patient_key_secret`` and reused. Changing it unlinks every earlier exam
        from its patient (no more priors for them).
    dicom_port : int or None
        Start a DICOM C-STORE SCP on this port with the app (``None``: none). See
        docs/integration.md.
    dicom_ae_title, dicom_host : str
        The SCP's AE title (default ``CXRPILOT``) and listening address (default
        ``127.0.0.1``; ``0.0.0.0`` for a PACS on another machine).
    dicom_allowed_aets : list of str
        Only these calling AE titles may associate (empty: any).
    dicom_max_associations : int
        Associations served at once.
    pacs_url : str or None
        A PACS's DICOMweb root (e.g. ``http://pacs:8042/dicom-web``) to pull CR/DX studies
        from (``cxrpilot pacs pull``, ``POST /api/pacs/pull``, and the poll).
    pacs_poll_s : float
        Pull from ``pacs_url`` every this many seconds (0: no poll).
    pacs_poll_days : int
        A poll asks for studies dated this many days back or later.
    """

    model_config = SettingsConfigDict(env_prefix="CXRPILOT_", extra="forbid")

    environment: Literal["production", "development"] = "production"
    data_dir: Path = Field(default_factory=lambda: default_data_dir())
    database_url: str | None = None
    secret_key: SecretStr | None = None
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    session_max_age_s: int = Field(12 * 3600, gt=0)
    session_idle_s: int = Field(2 * 3600, gt=0)
    login_max_failures: int = Field(5, gt=0)
    login_window_s: int = Field(15 * 60, gt=0)
    login_lockout_s: int = Field(15 * 60, gt=0)
    login_user_max_failures: int = Field(20, gt=0)
    login_ip_max_failures: int = Field(50, gt=0)
    import_roots: list[Path] = Field(default_factory=list)
    max_upload_mb: int = Field(64, gt=0)
    import_checks: bool = True
    decode_timeout_s: float = Field(30.0, gt=0, le=3600)
    decode_memory_mb: int = Field(2048, ge=64, le=1_048_576)
    decode_concurrency: int = Field(2, ge=1, le=256)
    decode_wait_s: float = Field(60.0, ge=0, le=3600)
    worker_threads: int = Field(1, ge=0)
    draft_model: str | None = None
    draft_quantize: Literal["int8", "int4"] | None = None
    draft_producer: str | None = None
    job_lease_s: int = Field(300, gt=0)
    job_max_attempts: int = Field(3, gt=0)
    reclaim_jobs_on_start: bool = True
    password_time_cost: int = Field(3, ge=1)
    password_memory_kib: int = Field(65536, ge=8)
    heartbeat_timeout_s: float = Field(30.0, gt=0)
    auto_migrate: bool = True
    pacs_store_host: str | None = None
    pacs_store_port: int = Field(104, ge=1, le=65535)
    pacs_store_ae_title: str = Field("ANY-SCP", min_length=1, max_length=16)
    pacs_calling_ae_title: str = Field("CXRPILOT", min_length=1, max_length=16)
    pacs_stow_url: str | None = None
    pacs_stow_authorization: SecretStr | None = None
    pacs_stow_verify: bool = False
    pacs_timeout_s: float = Field(30.0, gt=0, le=600)
    fhir_url: str | None = None
    fhir_authorization: SecretStr | None = None
    outbox_sender: bool = True
    outbox_retry_base_s: float = Field(5.0, gt=0, le=3600)
    outbox_retry_max_s: float = Field(600.0, gt=0, le=86400)
    outbox_max_attempts: int = Field(50, ge=1, le=10000)
    outbound_study_reads: bool = False
    institution_name: str = Field("cxrpilot", min_length=1, max_length=64)
    patient_key_secret: SecretStr | None = None
    dicom_port: int | None = Field(None, ge=0, le=65535)
    dicom_ae_title: str = Field("CXRPILOT", min_length=1, max_length=16)
    dicom_host: str = "127.0.0.1"
    dicom_allowed_aets: list[str] = Field(default_factory=list)
    dicom_max_associations: int = Field(8, ge=1, le=256)
    pacs_url: str | None = None
    pacs_poll_s: float = Field(0.0, ge=0)
    pacs_poll_days: int = Field(1, ge=0, le=36500)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for secret, variable, fix in (
            (self.secret_key, "CXRPILOT_SECRET_KEY",
             ("set a random value (python -c 'import secrets; print(secrets.token_urlsafe(32))'), leave "
             "it unset to have one generated in the data folder, or set CXRPILOT_ENVIRONMENT=development")),
            (self.patient_key_secret, "CXRPILOT_PATIENT_KEY_SECRET",
             "set a random value, or leave it unset to have one generated in the data folder"),
        ):
            value = None if secret is None else secret.get_secret_value()
            if value is not None and (value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 16):
                raise InvalidInputError(f"{variable} is a placeholder or shorter than 16 characters; {fix}")
        return self

    @model_validator(mode="after")
    def _check_dicom_ae_title(self) -> Settings:
        from cxrpilot.interop.dimse import check_ae_title

        try:
            self.dicom_ae_title = check_ae_title(self.dicom_ae_title, what="CXRPILOT_DICOM_AE_TITLE")
            self.dicom_allowed_aets = [
                check_ae_title(a, what="CXRPILOT_DICOM_ALLOWED_AETS entry")
                for a in self.dicom_allowed_aets
            ]
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        return self

    @model_validator(mode="after")
    def _refuse_weak_password_hashing(self) -> Settings:
        if self.environment != "development" and (
            self.password_time_cost < 2 or self.password_memory_kib < 19456
        ):
            raise InvalidInputError(
                f"password hashing cost t={self.password_time_cost}, m={self.password_memory_kib} KiB is below "
                "the minimum outside development (t>=2, m>=19456 KiB); raise CXRPILOT_PASSWORD_TIME_COST / "
                "CXRPILOT_PASSWORD_MEMORY_KIB or set CXRPILOT_ENVIRONMENT=development"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SQLite file in :attr:`data_dir`."""
        if self.database_url:
            url = self.database_url
            if url.startswith(("postgresql://", "postgres://")):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{(self.data_dir / 'cxrpilot.sqlite').resolve()}"

    @property
    def image_dir(self) -> Path:
        """Root of the content-addressed image store."""
        return self.data_dir / "images"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, built once per process."""
    return Settings()
