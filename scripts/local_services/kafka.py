"""Kafka, one KRaft combined node: PLAINTEXT 127.0.0.1:PORT (the broker's own traffic and the
tests), controller :CONTROLLER_PORT, and SASL_PLAINTEXT :SASL_PORT with SCRAM-SHA-256 for the
test user ``orders`` / ``orders-secret``: its configuration as text (server.properties, the
SASL listener, the SCRAM user, the tool command lines, the JVM options), its jars, and the
broker itself.

SCRAM credentials live in the KRaft metadata. A new log dir gets the user at format time
(``StorageTool format --add-scram``). A dir formatted earlier (without it) gets it once the
broker is up, through the Admin API's AlterUserScramCredentials as run by Kafka's own
``kafka.admin.ConfigCommand`` (the class behind kafka-configs.sh, in the kafka_2.13 jar we
already have: no JDK, no extra jar, no reformat that would lose the topics). Both are upserts;
kafka/scram.done records the log dir (its directory.id) that has the user.

The jars are resolved once by Maven from Central (scripts/kafka/pom.xml). They land in
<repo>/.cache/kafka/<version>/libs (kept by reset-data); ``.complete`` marks a finished
resolution. Every org.apache.kafka artifact must be at the one version, and every jar must have
the SHA-256 pinned in scripts/kafka/jars-<kafka>-log4j-<log4j>.sha256: a fresh machine runs
exactly the broker that was tested. Maven also checks Central's own checksums
(``--strict-checksums``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from local_services.config import Config, Run
from local_services.output import Fail, log, warn
from local_services.service import DaemonService, ensure_port_free, port_accepts, spawn_daemon
from local_services.system import argv, run

USER, PASSWORD, MECHANISM = "orders", "orders-secret", "SCRAM-SHA-256"
KAFKA_DIR = Path(__file__).resolve().parent.parent / "kafka"  # the templates, pom and pins
POM = KAFKA_DIR / "pom.xml"
JVM = argv(
    "-Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35"
    " -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true"
)


# -- configuration, as text (pure functions) --------------------------------------------------


def render_properties(template: str, data: Path, port: int, controller: int, sasl: int) -> str:
    values = {"LOG_DIRS": data, "KAFKA_PORT": port, "CONTROLLER_PORT": controller}
    for key, value in {**values, "SASL_PORT": sasl}.items():
        template = template.replace(f"@{key}@", str(value))
    return template


def properties(text: str) -> dict[str, str]:
    lines = (line.strip() for line in text.splitlines())
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def sasl_listener(sasl_port: int) -> str:
    return f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}"


def has_sasl(props_text: str, sasl_port: int) -> bool:
    return sasl_listener(sasl_port) in properties(props_text).get("listeners", "").split(",")


def scram_credential(user: str = USER, password: str = PASSWORD) -> str:
    return f"{MECHANISM}=[name={user},password={password}]"


def status_detail(version: str, controller_port: int, props_text: str, sasl_port: int) -> str:
    """What ``status`` adds after the pid of a running broker."""
    base = f", {version}, controller :{controller_port}"
    if not has_sasl(props_text, sasl_port):
        return f"{base}, no SASL listener (run: scripts/services.sh restart kafka)"
    return f"{base}, {sasl_listener(sasl_port)} {MECHANISM} user {USER} password {PASSWORD}"


def format_command(cluster_id: str, props: Path, *, standalone: bool = True) -> list[str]:
    """StorageTool format of a new log dir, with the SCRAM user in its first metadata."""
    template = "kafka.tools.StorageTool format -g -t {} -c {} --add-scram {}"
    if standalone:
        template = template.replace("format", "format --standalone")
    return argv(template, cluster_id, props, scram_credential())


def add_scram_command(port: int) -> list[str]:
    """ConfigCommand (kafka-configs.sh) adding the SCRAM user to a running broker."""
    alter = (
        "kafka.admin.ConfigCommand --bootstrap-server 127.0.0.1:{} --alter"
        " --entity-type users --entity-name {} --add-config {}=[password={}]"
    )
    return argv(alter, port, USER, MECHANISM, PASSWORD)


# -- the jars ---------------------------------------------------------------------------------


def checksums_file(version: str, log4j: str) -> Path:
    return KAFKA_DIR / f"jars-{version}-log4j-{log4j}.sha256"


def pinned_checksums(text: str) -> dict[str, str]:
    """{jar name: sha256} from ``sha256sum`` output (comment lines ignored)."""
    pinned: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split(maxsplit=1)
            pinned[name.lstrip("*")] = digest
    return pinned


def checksum_problem(found: dict[str, str], pinned: dict[str, str]) -> str:
    """What differs between the resolved jars' digests and the pinned ones ("" if nothing)."""
    problems = [f"{n} not pinned" for n in sorted(found.keys() - pinned.keys())]
    problems += [f"{n} missing" for n in sorted(pinned.keys() - found.keys())]
    problems += [
        f"{n} has sha256 {found[n][:16]}…, pinned {pinned[n][:16]}…"
        for n in sorted(found.keys() & pinned.keys())
        if found[n] != pinned[n]
    ]
    return "; ".join(problems)


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def libs_dir(cfg: Config) -> Path:
    return cfg.repo / ".cache" / "kafka" / cfg.kafka_version / "libs"


def parse_java_major(version_output: str) -> int | None:
    """17 from 'openjdk version "17.0.15" 2025-04-15'; 1 from a Java 8 '"1.8.0_292"'."""
    match = re.search(r'version "(\d+)', version_output)
    return int(match.group(1)) if match else None


def java_ok() -> bool:
    if not shutil.which("java"):
        return False
    major = parse_java_major(run(["java", "-version"], capture_output=True).stderr)
    return major is not None and major >= 17


def required_jars(version: str, log4j: str) -> list[str]:
    kafka = [f"kafka_2.13-{version}.jar", f"kafka-server-{version}.jar"]
    return [*kafka, f"log4j-core-{log4j}.jar", f"log4j-slf4j-impl-{log4j}.jar"]


def jar_problem(jar_names: list[str], version: str, log4j: str) -> str:
    """What is wrong with a resolved set of jars ("" if nothing)."""
    missing = [j for j in required_jars(version, log4j) if j not in jar_names]
    if missing:
        return f"resolved jars incomplete: {' '.join(missing)} missing"
    kafka = [n for n in jar_names if n.startswith(("kafka-", "kafka_")) and n.endswith(".jar")]
    odd = sorted(n for n in kafka if not n.endswith(f"-{version}.jar"))
    return f"mixed Kafka versions resolved: {' '.join(odd)}" if odd else ""


def resolve(cfg: Config) -> Path:
    """The libs dir, resolving it first if needed."""
    libs = libs_dir(cfg)
    if (libs / ".complete").exists():
        return libs
    if not shutil.which("mvn"):
        raise Fail("mvn not found (run: scripts/services.sh install kafka)")
    version, log4j = cfg.kafka_version, cfg.log4j_version
    pins = checksums_file(version, log4j)
    if not pins.exists():
        raise Fail(
            f"no pinned checksums for Kafka {version} with log4j {log4j} ({pins} is missing):"
            " only pinned versions are installed; see that folder's .sha256 files to add one"
        )
    tmp, mvn_log = libs.with_name(f"libs.tmp.{os.getpid()}"), libs.parent / "mvn.log"
    libs.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"resolving Kafka {version} jars (log4j {log4j}) from Maven Central into {libs}")
    start = time.monotonic()
    mvn = run(
        [
            "mvn",
            "-q",
            "-B",
            "--strict-checksums",
            "-f",
            POM,
            f"-Dkafka.version={version}",
            f"-Dlog4j.version={log4j}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ],
        capture_output=True,
    )
    mvn_log.write_text(mvn.stdout + mvn.stderr)
    names = sorted(p.name for p in tmp.glob("*.jar"))
    problem = f"Maven could not resolve Kafka {version}" if mvn.returncode else ""
    problem = problem or jar_problem(names, version, log4j)
    if not problem:
        found = {p.name: sha256_of(p) for p in tmp.glob("*.jar")}
        if problem := checksum_problem(found, pinned_checksums(pins.read_text())):
            problem = f"Kafka jars differ from {pins.name}: {problem}"
    if problem:
        shutil.rmtree(tmp, ignore_errors=True)
        raise Fail(problem, mvn_log)
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    marker = f"kafka={version} log4j={log4j} jars={len(names)} sha256=pinned resolved={when}\n"
    (libs / ".complete").write_text(marker)
    log(f"Kafka jars ready ({len(names)} jars, each as pinned, {time.monotonic() - start:.0f}s)")
    return libs


# -- the broker -------------------------------------------------------------------------------


class Kafka(DaemonService):
    name, pattern, check = "kafka", "kafka.Kafka", 'port + "Kafka Server started"'
    timeout, stop_timeout = 120, 30

    def __init__(self, r: Run) -> None:
        super().__init__(r)
        self.port, self.sasl_port = self.cfg.kafka_port, self.cfg.kafka_sasl_port
        self.controller_port = self.cfg.kafka_controller_port
        self.place_in(self.dir)

    def place_in(self, directory: Path) -> None:
        """Where this broker keeps its files (its pid file, data, logs, properties)."""
        self.dir, self.pidfile = directory, directory / "kafka.pid"
        self.data, self.log_dir = self.dir / "data", self.dir / "logs"
        self.props, self.offset = self.dir / "server.properties", self.dir / "server.log.offset"
        self.logfile, self.server_log = self.log_dir / "kafka.out", self.log_dir / "server.log"

    def missing_packages(self) -> list[str]:
        missing = [] if java_ok() else ["openjdk-17-jre-headless"]
        if not (libs_dir(self.cfg) / ".complete").exists() and not shutil.which("mvn"):
            missing.append("maven")
        return missing

    def prepare(self, installed: Sequence[str]) -> None:
        resolve(self.cfg)

    def java(self, *args: str | Path, log4j: bool = True) -> list[str | Path]:
        """java with the jars, and the broker's log4j config unless a tool would log there."""
        opts = [f"-Dkafka.logs.dir={self.log_dir}"]
        if log4j:
            opts.append(f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}")
        return ["java", *opts, "-cp", f"{libs_dir(self.cfg)}/*", *args]

    def rendered(self) -> str:
        template = (KAFKA_DIR / "server.properties").read_text()
        ports = (self.port, self.controller_port, self.sasl_port)
        return render_properties(template, self.data, *ports)

    def running_props(self) -> str:
        """The server.properties the broker was started with."""
        return self.props.read_text() if self.props.exists() else ""

    def launch(self) -> None:
        if self.already_running():
            if self.running_props() != self.rendered():
                warn(f"kafka runs with an older {self.props} (no SASL on :{self.sasl_port}?)")
                warn("  to apply the new one: scripts/services.sh restart kafka")
            return
        resolve(self.cfg)
        if not java_ok():
            raise Fail("Java 17+ not found (run: scripts/services.sh install kafka)")
        if ensure_port_free(self.run, self.name, self.port, healthy=self.port_answers):
            return
        ensure_port_free(self.run, "kafka controller", self.controller_port)
        ensure_port_free(self.run, "kafka SASL listener", self.sasl_port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.props.write_text(self.rendered())
        if self.logfile.exists():
            self.logfile.replace(self.log_dir / "kafka.out.prev")
        self.logfile.touch()
        self.format()
        # Readiness is judged on what the broker logs after this offset.
        size = self.server_log.stat().st_size if self.server_log.exists() else 0
        self.offset.write_text(f"{size}\n")
        log(f"starting {self.name} {self.cfg.kafka_version} (KRaft combined node, {self.data})")
        broker = self.java(*JVM, "kafka.Kafka", self.props)
        spawn_daemon(broker, self.pidfile, self.logfile, self.dir)

    def format(self) -> None:
        if (self.data / "meta.properties").exists():
            return
        cid_file = self.cluster_id_file()
        if not (cid := cid_file.read_text().strip() if cid_file.exists() else ""):
            cid = (self.tool("kafka.tools.StorageTool", "random-uuid").split() or [""])[-1]
            if len(cid) != 22:
                raise Fail(f"could not generate a Kafka cluster id (got {cid!r})", self.logfile)
            cid_file.write_text(f"{cid}\n")
        log(f"formatting Kafka log dir {self.data} (cluster id {cid})")
        self.tool(*format_command(cid, self.props, standalone=self.standalone))
        self.mark_scram_done()

    standalone = True  # one node that is its own quorum; a cluster's voters are listed

    def cluster_id_file(self) -> Path:
        return self.dir / "cluster.id"

    def tool(self, *args: str | Path, log4j: bool = True) -> str:
        """Run a Kafka tool class; its output is appended to kafka.out, and returned."""
        out = run(self.java(*args, log4j=log4j), capture_output=True)
        with self.logfile.open("a") as f:
            f.write(out.stdout + out.stderr)
        if out.returncode:
            what = " ".join(map(str, args[:2]))
            raise Fail(f"{what} failed (exit {out.returncode})", self.logfile)
        return out.stdout

    def directory_id(self) -> str:
        return properties((self.data / "meta.properties").read_text()).get("directory.id", "?")

    def mark_scram_done(self) -> None:
        (self.dir / "scram.done").write_text(f"{self.directory_id()} {USER}\n")

    def after_ready(self) -> None:
        done = self.dir / "scram.done"
        if done.exists() and done.read_text().split()[:1] == [self.directory_id()]:
            return
        log(f"kafka: adding SCRAM user {USER} (Admin API AlterUserScramCredentials)")
        self.tool(*add_scram_command(self.port), log4j=False)
        self.mark_scram_done()

    def port_answers(self) -> bool:
        return port_accepts(self.port)

    def answers(self) -> bool:
        sasl = not has_sasl(self.running_props(), self.sasl_port) or port_accepts(self.sasl_port)
        return self.port_answers() and sasl and self.started_logged()

    def started_logged(self) -> bool:
        try:
            offset = int(self.offset.read_text().strip() or 0)
            with self.server_log.open("rb") as f:
                if f.seek(0, 2) < offset:
                    return True  # rolled over since the start: it has been running a while
                f.seek(offset)
                return b"Kafka Server started" in f.read()
        except (OSError, ValueError):
            return False

    def logs(self) -> list[Path]:
        return [self.logfile, self.server_log]

    def status_detail(self) -> str:
        controller, props = self.controller_port, self.running_props()
        return status_detail(self.cfg.kafka_version, controller, props, self.sasl_port)
