"""Kafka, one KRaft combined node: PLAINTEXT 127.0.0.1:PORT (the broker's own traffic and the
tests), controller :CONTROLLER_PORT, and SASL_PLAINTEXT :SASL_PORT with SCRAM-SHA-256 for the
test user ``orders`` / ``orders-secret``.

SCRAM credentials live in the KRaft metadata. A new log dir gets the user at format time
(``StorageTool format --add-scram``). A dir formatted earlier (without it) gets it once the
broker is up, through the Admin API's AlterUserScramCredentials as run by Kafka's own
``kafka.admin.ConfigCommand`` (the class behind kafka-configs.sh, in the kafka_2.13 jar we
already have: no JDK, no extra jar, no reformat that would lose the topics). Both are upserts;
kafka/scram.done records the log dir (its directory.id) that has the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from local_services import common as c
from local_services import kafka_jars

USER, PASSWORD, MECHANISM = "orders", "orders-secret", "SCRAM-SHA-256"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "kafka"
JVM = c.argv(
    "-Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35"
    " -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true"
)


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


class Kafka(c.DaemonService):
    name, pattern, check = "kafka", "kafka.Kafka", 'port + "Kafka Server started"'
    timeout, stop_timeout = 120, 30

    def __init__(self, r: c.Run) -> None:
        super().__init__(r)
        self.port, self.sasl_port = self.cfg.kafka_port, self.cfg.kafka_sasl_port
        self.data, self.log_dir = self.dir / "data", self.dir / "logs"
        self.props, self.offset = self.dir / "server.properties", self.dir / "server.log.offset"
        self.logfile, self.server_log = self.log_dir / "kafka.out", self.log_dir / "server.log"

    def missing_packages(self) -> list[str]:
        return kafka_jars.missing_packages(self.cfg)

    def prepare(self, installed: Sequence[str]) -> None:
        kafka_jars.resolve(self.cfg)

    def java(self, *args: str | Path, log4j: bool = True) -> list[str | Path]:
        """java with the jars, and the broker's log4j config unless a tool would log there."""
        opts = [f"-Dkafka.logs.dir={self.log_dir}"]
        if log4j:
            opts.append(f"-Dlog4j2.configurationFile={CONFIG_DIR / 'log4j2.properties'}")
        return ["java", *opts, "-cp", f"{kafka_jars.libs_dir(self.cfg)}/*", *args]

    def rendered(self) -> str:
        ports = (self.port, self.cfg.kafka_controller_port, self.sasl_port)
        return render_properties((CONFIG_DIR / "server.properties").read_text(), self.data, *ports)

    def running_props(self) -> str:
        """The server.properties the broker was started with."""
        return self.props.read_text() if self.props.exists() else ""

    def launch(self) -> None:
        if self.already_running():
            if self.running_props() != self.rendered():
                c.warn(f"kafka runs with an older {self.props} (no SASL on :{self.sasl_port}?)")
                c.warn("  to apply the new one: scripts/services.sh restart kafka")
            return
        kafka_jars.resolve(self.cfg)
        if not kafka_jars.java_ok():
            raise c.Fail("Java 17+ not found (run: scripts/services.sh install kafka)")
        if c.ensure_port_free(self.run, self.name, self.port, healthy=self.port_answers):
            return
        c.ensure_port_free(self.run, "kafka controller", self.cfg.kafka_controller_port)
        c.ensure_port_free(self.run, "kafka SASL listener", self.sasl_port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.props.write_text(self.rendered())
        if self.logfile.exists():
            self.logfile.replace(self.log_dir / "kafka.out.prev")
        self.logfile.touch()
        self.format()
        # Readiness is judged on what the broker logs after this offset.
        size = self.server_log.stat().st_size if self.server_log.exists() else 0
        self.offset.write_text(f"{size}\n")
        c.log(f"starting kafka {self.cfg.kafka_version} (KRaft combined node, log dir {self.data})")
        broker = self.java(*JVM, "kafka.Kafka", self.props)
        c.spawn_daemon(broker, self.pidfile, self.logfile, self.dir)

    def format(self) -> None:
        if (self.data / "meta.properties").exists():
            return
        cid_file = self.dir / "cluster.id"
        if not (cid := cid_file.read_text().strip() if cid_file.exists() else ""):
            cid = (self.tool("kafka.tools.StorageTool", "random-uuid").split() or [""])[-1]
            if len(cid) != 22:
                raise c.Fail(f"could not generate a Kafka cluster id (got {cid!r})", self.logfile)
            cid_file.write_text(f"{cid}\n")
        c.log(f"formatting Kafka log dir {self.data} (cluster id {cid}, standalone KRaft)")
        template = "kafka.tools.StorageTool format --standalone -g -t {} -c {} --add-scram {}"
        self.tool(*c.argv(template, cid, self.props, scram_credential()))
        self.mark_scram_done()

    def tool(self, *args: str | Path, log4j: bool = True) -> str:
        """Run a Kafka tool class; its output is appended to kafka.out, and returned."""
        out = c.run(self.java(*args, log4j=log4j), capture_output=True)
        with self.logfile.open("a") as f:
            f.write(out.stdout + out.stderr)
        if out.returncode:
            what = " ".join(map(str, args[:2]))
            raise c.Fail(f"{what} failed (exit {out.returncode})", self.logfile)
        return out.stdout

    def directory_id(self) -> str:
        return properties((self.data / "meta.properties").read_text()).get("directory.id", "?")

    def mark_scram_done(self) -> None:
        (self.dir / "scram.done").write_text(f"{self.directory_id()} {USER}\n")

    def after_ready(self) -> None:
        done = self.dir / "scram.done"
        if done.exists() and done.read_text().split()[:1] == [self.directory_id()]:
            return
        c.log(f"kafka: adding SCRAM user {USER} (Admin API AlterUserScramCredentials)")
        alter = (
            "kafka.admin.ConfigCommand --bootstrap-server 127.0.0.1:{} --alter"
            " --entity-type users --entity-name {} --add-config {}=[password={}]"
        )
        self.tool(*c.argv(alter, self.port, USER, MECHANISM, PASSWORD), log4j=False)
        self.mark_scram_done()

    def port_answers(self) -> bool:
        return c.port_accepts(self.port)

    def answers(self) -> bool:
        sasl = not has_sasl(self.running_props(), self.sasl_port) or c.port_accepts(self.sasl_port)
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
        base = f", {self.cfg.kafka_version}, controller :{self.cfg.kafka_controller_port}"
        if not has_sasl(self.running_props(), self.sasl_port):
            return f"{base}, no SASL listener (run: scripts/services.sh restart kafka)"
        sasl = f"{sasl_listener(self.sasl_port)} {MECHANISM}"
        return f"{base}, {sasl} user {USER} password {PASSWORD}"
