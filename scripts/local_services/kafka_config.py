"""The Kafka broker's configuration, as text: the rendered server.properties and its parser,
the SASL listener, the SCRAM test user, the JVM options. Pure functions, no I/O."""

from __future__ import annotations

from pathlib import Path

from local_services.commands import argv

USER, PASSWORD, MECHANISM = "orders", "orders-secret", "SCRAM-SHA-256"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "kafka"
JVM = argv(
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


def status_detail(version: str, controller_port: int, props_text: str, sasl_port: int) -> str:
    """What ``status`` adds after the pid of a running broker."""
    base = f", {version}, controller :{controller_port}"
    if not has_sasl(props_text, sasl_port):
        return f"{base}, no SASL listener (run: scripts/services.sh restart kafka)"
    return f"{base}, {sasl_listener(sasl_port)} {MECHANISM} user {USER} password {PASSWORD}"


def format_command(cluster_id: str, props: Path) -> list[str]:
    """StorageTool format of a new log dir, with the SCRAM user in its first metadata."""
    template = "kafka.tools.StorageTool format --standalone -g -t {} -c {} --add-scram {}"
    return argv(template, cluster_id, props, scram_credential())


def add_scram_command(port: int) -> list[str]:
    """ConfigCommand (kafka-configs.sh) adding the SCRAM user to a running broker."""
    alter = (
        "kafka.admin.ConfigCommand --bootstrap-server 127.0.0.1:{} --alter"
        " --entity-type users --entity-name {} --add-config {}=[password={}]"
    )
    return argv(alter, port, USER, MECHANISM, PASSWORD)
