"""The Kafka broker's jars, resolved once by Maven from Central (scripts/kafka/pom.xml).

They land in <repo>/.cache/kafka/<version>/libs (kept by reset-data); ``.complete`` marks a
finished resolution. Every org.apache.kafka artifact must be at the one version, and every jar
must have the SHA-256 pinned in scripts/kafka/jars-<kafka>-log4j-<log4j>.sha256: a fresh
machine runs exactly the broker that was tested. Maven also checks Central's own checksums
(``--strict-checksums``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from local_services.commands import run
from local_services.config import Config
from local_services.output import Fail, log

KAFKA_DIR = Path(__file__).resolve().parent.parent / "kafka"
POM = KAFKA_DIR / "pom.xml"


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


def missing_packages(cfg: Config) -> list[str]:
    missing = [] if java_ok() else ["openjdk-17-jre-headless"]
    if not (libs_dir(cfg) / ".complete").exists() and not shutil.which("mvn"):
        missing.append("maven")
    return missing


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
