"""Paths, ports and environment of the embedded platform, shared by platformctl and the tests.

Every value can be overridden from the environment or from the git-ignored `.env`
(see `.env.example`); nothing here opens a connection.
"""
from __future__ import annotations

import base64
import glob
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EMBEDDED = REPO / "embedded"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file (python-dotenv's reading: quotes, comments, `export`)."""
    from dotenv import dotenv_values

    return {k: v or "" for k, v in dotenv_values(path).items()} if path.exists() else {}


def dotenv() -> dict[str, str]:
    """The committed `.env.example`, overridden by `.env` if present (so a key added to the
    example after `.env` was made still has its default); the process environment wins."""
    values = read_env_file(REPO / ".env.example")
    values.update(read_env_file(REPO / ".env"))
    values.update({k: v for k, v in os.environ.items() if k in values})
    return values


def find_jdk(min_major: int) -> Path:
    """The newest JDK under /usr/lib/jvm whose major version is at least `min_major`."""
    override = os.environ.get("NIFI_JAVA_HOME")
    if override:
        return Path(override)
    best: tuple[int, Path] | None = None
    for release in glob.glob("/usr/lib/jvm/*/release"):
        text = Path(release).read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("JAVA_VERSION="):
                major = int(line.split("=", 1)[1].strip('"').split(".")[0])
                if major >= min_major and (best is None or major > best[0]):
                    best = (major, Path(release).parent)
    if best is None:
        raise RuntimeError(f"no JDK {min_major}+ under /usr/lib/jvm (NiFi 2 needs one)")
    return best[1]


@dataclass(frozen=True)
class Settings:
    """Where everything lives and which ports it uses."""

    state: Path
    values: dict[str, str]

    @property
    def jars(self) -> Path:
        return self.state / "jars"

    @property
    def data(self) -> Path:
        return self.state / "data"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def conf(self) -> Path:
        return self.state / "conf"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def venv_bin(self) -> Path:
        return self.state / "venv" / "bin"

    @property
    def airflow_home(self) -> Path:
        return self.state / "airflow"

    def port(self, name: str) -> int:
        return int(self.values[name])

    @property
    def java17(self) -> Path:
        return Path(os.environ.get("JAVA17_HOME", "/usr/lib/jvm/java-17-openjdk-amd64")) / "bin" / "java"

    @property
    def postgres_bin(self) -> Path:
        """The bin folder of the newest PostgreSQL server installed by Debian's packages."""
        override = os.environ.get("POSTGRES_BIN")
        if override:
            return Path(override)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
        return Path(found[-1]).parent if found else Path("/usr/lib/postgresql/bin")

    @property
    def service_user(self) -> str | None:
        """Started by root, the services run as this unprivileged system account (made at the
        first start); started by another user, they run as that user. Root keeps them only when
        the account could not reach the code or the state (`unreachable_folder`)."""
        if os.geteuid() != 0 or self.unreachable_folder() is not None:
            return None
        return os.environ.get("FLIGHTDELAY_SERVICE_USER", "flightdelay")

    def unreachable_folder(self) -> Path | None:
        """The first folder above the code, the state, the jars or the venv's interpreter that
        other users may not traverse (no o+x), if any: the service account could not reach it."""
        for top in (REPO, self.state, self.jars, (self.venv_bin / "python").resolve()):
            for folder in reversed(top.resolve().parents):
                if folder.exists() and not folder.stat().st_mode & 0o001:
                    return folder
        return None

    @property
    def postgres_user(self) -> str | None:
        """PostgreSQL refuses to run as root: as root its processes run as Debian's `postgres`."""
        return "postgres" if os.geteuid() == 0 else None

    def postgres_uri(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        password = self.secret("postgres_password")  # URL-safe characters only
        return f"{driver}://flightdelay:{password}@127.0.0.1:{self.port('POSTGRES_PORT')}/{database}"

    @property
    def java_nifi(self) -> Path:
        return find_jdk(21) / "bin" / "java"

    @property
    def spark_home(self) -> str:
        """pyspark's folder in the venv: Spark's jars, bin/spark-submit and bin/spark-class."""
        return str(next((self.state / "venv" / "lib").glob("python3*/site-packages/pyspark"), ""))

    @property
    def spark_standalone(self) -> bool:
        """SPARK_CLUSTER=standalone: the embedded master and worker run, and spark_default is theirs."""
        return self.values.get("SPARK_CLUSTER", "local") == "standalone"

    @property
    def spark_master_url(self) -> str:
        """The embedded standalone master's URL (SPARK_CLUSTER=standalone)."""
        return f"spark://127.0.0.1:{self.port('SPARK_MASTER_PORT')}"

    def spark_jars(self) -> list[str]:
        """Local jars of Spark's Kafka connector, fetched by Maven (never by Ivy)."""
        return sorted(glob.glob(str(self.jars / "spark-kafka" / "*.jar")))

    def secret_path(self, name: str) -> Path:
        """Where the secret (or NiFi's key file) `name` is kept: .state/secrets/, every file 0600."""
        return self.state / "secrets" / name

    def secret(self, name: str, fernet: bool = False) -> str:
        """A generated secret kept in the state folder (created on first use, never in git).
        `fernet`: in the form Fernet keys need (fernet_key)."""
        path = self.secret_path(name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_private(path, fernet_key() if fernet else secrets.token_urlsafe(32))
        return path.read_text().strip()


def fernet_key() -> str:
    """32 random bytes in padded url-safe base64, the form Fernet keys need."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def write_private(path: Path, text: str) -> None:
    """Create `path` (it must not exist) with mode 0600 from the start: never readable by others,
    not even between a write and a chmod."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)


def load() -> Settings:
    values = dotenv()
    state = Path(os.environ.get("FLIGHTDELAY_STATE_DIR", REPO / ".state")).resolve()
    return Settings(state=state, values=values)
