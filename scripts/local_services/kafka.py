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

from local_services import kafka_config as kc
from local_services import kafka_jars
from local_services.commands import run
from local_services.config import Run
from local_services.output import Fail, log, warn
from local_services.ports import ensure_port_free, port_accepts
from local_services.processes import spawn_daemon
from local_services.service import DaemonService


class Kafka(DaemonService):
    name, pattern, check = "kafka", "kafka.Kafka", 'port + "Kafka Server started"'
    timeout, stop_timeout = 120, 30

    def __init__(self, r: Run) -> None:
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
            opts.append(f"-Dlog4j2.configurationFile={kc.CONFIG_DIR / 'log4j2.properties'}")
        return ["java", *opts, "-cp", f"{kafka_jars.libs_dir(self.cfg)}/*", *args]

    def rendered(self) -> str:
        template = (kc.CONFIG_DIR / "server.properties").read_text()
        ports = (self.port, self.cfg.kafka_controller_port, self.sasl_port)
        return kc.render_properties(template, self.data, *ports)

    def running_props(self) -> str:
        """The server.properties the broker was started with."""
        return self.props.read_text() if self.props.exists() else ""

    def launch(self) -> None:
        if self.already_running():
            if self.running_props() != self.rendered():
                warn(f"kafka runs with an older {self.props} (no SASL on :{self.sasl_port}?)")
                warn("  to apply the new one: scripts/services.sh restart kafka")
            return
        kafka_jars.resolve(self.cfg)
        if not kafka_jars.java_ok():
            raise Fail("Java 17+ not found (run: scripts/services.sh install kafka)")
        if ensure_port_free(self.run, self.name, self.port, healthy=self.port_answers):
            return
        ensure_port_free(self.run, "kafka controller", self.cfg.kafka_controller_port)
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
        log(f"starting kafka {self.cfg.kafka_version} (KRaft combined node, log dir {self.data})")
        broker = self.java(*kc.JVM, "kafka.Kafka", self.props)
        spawn_daemon(broker, self.pidfile, self.logfile, self.dir)

    def format(self) -> None:
        if (self.data / "meta.properties").exists():
            return
        cid_file = self.dir / "cluster.id"
        if not (cid := cid_file.read_text().strip() if cid_file.exists() else ""):
            cid = (self.tool("kafka.tools.StorageTool", "random-uuid").split() or [""])[-1]
            if len(cid) != 22:
                raise Fail(f"could not generate a Kafka cluster id (got {cid!r})", self.logfile)
            cid_file.write_text(f"{cid}\n")
        log(f"formatting Kafka log dir {self.data} (cluster id {cid}, standalone KRaft)")
        self.tool(*kc.format_command(cid, self.props))
        self.mark_scram_done()

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
        return kc.properties((self.data / "meta.properties").read_text()).get("directory.id", "?")

    def mark_scram_done(self) -> None:
        (self.dir / "scram.done").write_text(f"{self.directory_id()} {kc.USER}\n")

    def after_ready(self) -> None:
        done = self.dir / "scram.done"
        if done.exists() and done.read_text().split()[:1] == [self.directory_id()]:
            return
        log(f"kafka: adding SCRAM user {kc.USER} (Admin API AlterUserScramCredentials)")
        self.tool(*kc.add_scram_command(self.port), log4j=False)
        self.mark_scram_done()

    def port_answers(self) -> bool:
        return port_accepts(self.port)

    def answers(self) -> bool:
        sasl = not kc.has_sasl(self.running_props(), self.sasl_port) or port_accepts(self.sasl_port)
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
        controller, props = self.cfg.kafka_controller_port, self.running_props()
        return kc.status_detail(self.cfg.kafka_version, controller, props, self.sasl_port)
