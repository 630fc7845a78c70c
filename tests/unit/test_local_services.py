"""scripts/local_services (behind scripts/services.sh): the parts that need no server.

Argument parsing and service selection, the environment (port overrides), the rendered
configuration (server.properties, postgresql.conf, command lines) and the small parsers.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))  # the tool runs before the virtualenv exists

from local_services import caches, cli, kafka, postgres, service, system  # noqa: E402
from local_services.config import Config, Run  # noqa: E402
from local_services.output import Fail  # noqa: E402
from local_services.service import Probe  # noqa: E402

ENV_2ND_SET = {
    "ORDER_SERVICES_DIR": "/tmp/svc2",
    "ORDER_PG_PORT": "15432",
    "ORDER_MEMCACHED_PORT": "21211",
    "ORDER_REDIS_PORT": "16379",
    "ORDER_KAFKA_PORT": "19092",
    "ORDER_KAFKA_CONTROLLER_PORT": "19093",
    "ORDER_KAFKA_SASL_PORT": "19094",
}


# -- command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "action", "services"),
    [
        (["up"], "up", cli.CORE),
        (["down"], "down", cli.CORE),
        (["install"], "install", cli.CORE),
        (["up", "all"], "up", cli.ALL),
        (["status"], "status", cli.ALL + cli.CLUSTER),
        (["up", "cluster"], "up", cli.CLUSTER),
        (["reset-data", "cluster"], "reset-data", cli.CLUSTER),
        (["status", "kafka"], "status", ("kafka",)),
        (["start", "pg", "chrome"], "start", ("postgres", "chromium")),
        (["restart", "memcache", "postgresql"], "restart", ("memcached", "postgres")),
        (["stop", "redis", "redis", "kafka"], "stop", ("redis", "kafka")),
        (["up", "kafka", "all"], "up", ("kafka", "postgres", "memcached", "redis", "chromium")),
        (["reset-data"], "reset-data", cli.CORE),
        (["help"], "help", ()),
        (["--help"], "help", ()),
        ([], "usage", ()),
    ],
)
def test_parse_selects_services(argv: list[str], action: str, services: tuple[str, ...]) -> None:
    assert cli.parse(argv) == cli.Command(action, services)


def test_the_cluster_is_apart_from_all_and_on_ports_of_its_own() -> None:
    assert not set(cli.CLUSTER) & set(cli.ALL)
    cfg = Config.from_env({}, Path("/repo"), Path("/"))
    ports = cfg.cluster
    cluster = [ports.kafka(n) for n in (1, 2, 3)]
    cluster += [ports.kafka_controller(n) for n in (1, 2, 3)]
    cluster += [ports.kafka_sasl(n) for n in (1, 2, 3)]
    cluster += [ports.postgres(n) for n in (1, 2)] + [ports.patroni_api(n) for n in (1, 2)]
    cluster += [ports.pgbouncer, ports.etcd_client, ports.etcd_peer]
    cluster += [ports.redis(n) for n in range(1, 7)] + [ports.memcached(n) for n in (1, 2)]
    single = [cfg.pg_port, cfg.mc_port, cfg.redis_port, cfg.kafka_port]
    single += [cfg.kafka_controller_port, cfg.kafka_sasl_port]
    assert len(set(cluster)) == len(cluster)
    assert not set(cluster) & set(single)
    moved = Config.from_env({"ORDER_CLUSTER_BASE_PORT": "29000"}, Path("/repo"), Path("/"))
    assert moved.cluster.kafka_bootstrap().startswith("127.0.0.1:29091,")
    with pytest.raises(Fail, match="ORDER_CLUSTER_BASE_PORT"):
        Config.from_env({"ORDER_CLUSTER_BASE_PORT": "65000"}, Path("/repo"), Path("/"))


def test_core_is_all_but_chromium() -> None:
    core = cli.CORE
    assert core == ("postgres", "memcached", "redis", "kafka")
    assert (*core, "chromium") == cli.ALL


@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_start_stop_restart_need_a_service(action: str) -> None:
    with pytest.raises(Fail, match=f"usage: scripts/services.sh {action} SERVICE"):
        cli.parse([action])


def test_unknown_service_and_command() -> None:
    with pytest.raises(Fail, match="unknown service 'mysql'"):
        cli.parse(["up", "postgres", "mysql"])
    with pytest.raises(cli.UsageError, match="unknown command 'launch'"):
        cli.parse(["launch"])


def test_exit_codes_without_servers(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "scripts/services.sh up" in capsys.readouterr().out
    assert cli.main(["help"]) == 0
    assert cli.main(["bogus"]) == 1
    err = capsys.readouterr().err
    assert "Local backing services" in err  # the usage goes to stderr first
    assert err.rstrip().endswith("[services] ERROR: unknown command 'bogus'")
    assert cli.main(["up", "nothing"]) == 1
    assert cli.main(["start"]) == 1


def test_kafka_is_launched_first_and_waited_for_in_order() -> None:
    r = Run(Config(REPO, Path("/tmp/x")))
    services = [cli.SERVICES[name](r) for name in ("postgres", "redis", "kafka", "chromium")]
    assert [s.name for s in cli.launch_order(services)] == [
        "kafka",
        "postgres",
        "redis",
        "chromium",
    ]


def test_usage_names_the_sasl_endpoint() -> None:
    assert "127.0.0.1:9094 SASL_PLAINTEXT" in cli.USAGE
    assert 'user "orders" password "orders-secret"' in cli.USAGE
    assert "ORDER_KAFKA_SASL_PORT" in cli.USAGE


# -- environment ------------------------------------------------------------------------------


def test_defaults() -> None:
    cfg = Config.from_env({}, REPO, Path("/somewhere"))
    assert cfg.state == REPO / ".services"
    assert (cfg.pg_port, cfg.mc_port, cfg.redis_port) == (5432, 11211, 6379)
    assert (cfg.kafka_port, cfg.kafka_controller_port, cfg.kafka_sasl_port) == (9092, 9093, 9094)
    assert (cfg.kafka_version, cfg.log4j_version, cfg.lock_timeout) == ("4.1.1", "2.24.3", 900)


def test_port_overrides_for_a_second_set() -> None:
    cfg = Config.from_env(ENV_2ND_SET, REPO, Path("/somewhere"))
    assert cfg.state == Path("/tmp/svc2")
    assert (cfg.pg_port, cfg.mc_port, cfg.redis_port) == (15432, 21211, 16379)
    assert (cfg.kafka_port, cfg.kafka_controller_port, cfg.kafka_sasl_port) == (19092, 19093, 19094)


def test_empty_variables_mean_the_default() -> None:
    cfg = Config.from_env({"ORDER_PG_PORT": "", "ORDER_SERVICES_DIR": ""}, REPO, Path("/x"))
    assert (cfg.pg_port, cfg.state) == (5432, REPO / ".services")


def test_relative_state_dir_is_from_the_working_dir() -> None:
    cfg = Config.from_env({"ORDER_SERVICES_DIR": "svc"}, REPO, Path("/work/here"))
    assert cfg.state == Path("/work/here/svc")


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "80.5"])
def test_bad_port_is_refused(value: str) -> None:
    with pytest.raises(Fail, match="ORDER_REDIS_PORT must be a TCP port"):
        Config.from_env({"ORDER_REDIS_PORT": value}, REPO, Path("/"))


def test_one_port_for_two_services_is_refused() -> None:
    with pytest.raises(Fail, match="port 9092 is given to two services"):
        Config.from_env({"ORDER_KAFKA_SASL_PORT": "9092"}, REPO, Path("/"))


def test_kafka_version_picks_its_log4j() -> None:
    assert Config.from_env({"ORDER_KAFKA_VERSION": "4.2.0"}, REPO, Path("/")).log4j_version == (
        "2.25.3"
    )
    env = {"ORDER_KAFKA_VERSION": "4.2.0", "ORDER_KAFKA_LOG4J_VERSION": "2.25.9"}
    assert Config.from_env(env, REPO, Path("/")).log4j_version == "2.25.9"


def test_lock_timeout() -> None:
    env = {"SERVICES_LOCK_TIMEOUT": "2.5"}
    assert Config.from_env(env, REPO, Path("/")).lock_timeout == 2.5
    with pytest.raises(Fail, match="SERVICES_LOCK_TIMEOUT"):
        Config.from_env({"SERVICES_LOCK_TIMEOUT": "soon"}, REPO, Path("/"))


# -- kafka ------------------------------------------------------------------------------------


def rendered_kafka(port: int = 9092, controller: int = 9093, sasl: int = 9094) -> str:
    template = (REPO / "scripts" / "kafka" / "server.properties").read_text()
    return kafka.render_properties(template, Path("/s/kafka/data"), port, controller, sasl)


def test_server_properties_default_listeners() -> None:
    text = rendered_kafka()
    assert "@" not in text.replace("# between @ signs", "")
    props = kafka.properties(text)
    listeners = (
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_PLAINTEXT://127.0.0.1:9094"
    )
    assert props["listeners"] == listeners
    assert props["advertised.listeners"] == listeners
    assert props["listener.security.protocol.map"] == (
        "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"
    )
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-256"
    assert props["listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    )
    assert props["log.dirs"] == "/s/kafka/data"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_server_properties_port_overrides() -> None:
    props = kafka.properties(rendered_kafka(19092, 19093, 19094))
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SASL_PLAINTEXT://127.0.0.1:19094"
    )
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"


def test_has_sasl_tells_a_broker_started_before_the_listener() -> None:
    assert kafka.has_sasl(rendered_kafka(), 9094)
    assert not kafka.has_sasl(rendered_kafka(), 19094)
    before = "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"
    assert not kafka.has_sasl(before, 9094)
    assert not kafka.has_sasl("", 9094)


def test_scram_credential_for_storage_tool() -> None:
    assert kafka.scram_credential() == "SCRAM-SHA-256=[name=orders,password=orders-secret]"


def test_properties_parser() -> None:
    text = "# c=1\n a = b \nempty=\nx=y=z\nno equals\n"
    assert kafka.properties(text) == {"a": "b", "empty": "", "x": "y=z"}


def test_kafka_tool_command_lines() -> None:
    assert kafka.format_command("AbCdEfGhIjKlMnOpQrStUv", Path("/a b/p")) == [
        *["kafka.tools.StorageTool", "format", "--standalone", "-g"],
        *["-t", "AbCdEfGhIjKlMnOpQrStUv", "-c", "/a b/p"],
        *["--add-scram", "SCRAM-SHA-256=[name=orders,password=orders-secret]"],
    ]
    assert kafka.add_scram_command(19092) == [
        *["kafka.admin.ConfigCommand", "--bootstrap-server", "127.0.0.1:19092", "--alter"],
        *["--entity-type", "users", "--entity-name", "orders"],
        *["--add-config", "SCRAM-SHA-256=[password=orders-secret]"],
    ]


def test_kafka_status_detail_names_the_sasl_user_or_the_restart() -> None:
    detail = kafka.status_detail("4.1.1", 9093, rendered_kafka(), 9094)
    assert detail == (
        ", 4.1.1, controller :9093, SASL_PLAINTEXT://127.0.0.1:9094 SCRAM-SHA-256"
        " user orders password orders-secret"
    )
    old = kafka.status_detail("4.1.1", 9093, "", 9094)
    assert old.endswith("no SASL listener (run: scripts/services.sh restart kafka)")


def test_jar_checks() -> None:
    good = [*kafka.required_jars("4.1.1", "2.24.3"), "kafka-clients-4.1.1.jar", "x-1.jar"]
    assert kafka.jar_problem(good, "4.1.1", "2.24.3") == ""
    no_core = [j for j in good if not j.startswith("log4j-core")]
    assert "log4j-core-2.24.3.jar missing" in kafka.jar_problem(no_core, "4.1.1", "2.24.3")
    mixed = [*good, "kafka-raft-4.1.0.jar"]
    assert kafka.jar_problem(mixed, "4.1.1", "2.24.3") == (
        "mixed Kafka versions resolved: kafka-raft-4.1.0.jar"
    )


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime', 17),
        ('openjdk version "25" 2025-09-16', 25),
        ('java version "1.8.0_292"', 1),
        ("bash: java: not found", None),
    ],
)
def test_java_version(output: str, major: int | None) -> None:
    assert kafka.parse_java_major(output) == major


# -- postgres, memcached, redis ---------------------------------------------------------------


def test_postgresql_conf() -> None:
    conf = postgres.render_conf(15432, Path("/s/postgres/run"))
    lines = set(conf.splitlines())
    assert {"listen_addresses = '127.0.0.1'", "port = 15432", "fsync = on"} <= lines
    assert "unix_socket_directories = '/s/postgres/run'" in lines
    assert "synchronous_commit = on" in lines


def test_postgres_root_in_the_state_dir_when_reachable() -> None:
    assert postgres.pg_root(Path("/work/main/.services"), True) == Path(
        "/work/main/.services/postgres"
    )


def test_postgres_root_moves_out_when_unreachable_or_too_long() -> None:
    # The same place as the former bash script: printf %s DIR | sha256sum | cut -c1-12
    digest = hashlib.sha256(b"/root/clone/.services").hexdigest()[:12]
    expected = Path("/var/lib/postgresql/order-service") / digest
    assert postgres.pg_root(Path("/root/clone/.services"), False) == expected
    long = Path("/" + "d" * 80)
    assert postgres.pg_root(long, True).parent == Path("/var/lib/postgresql/order-service")


def test_debian_clusters_on_our_port() -> None:
    out = (
        "15  main   5432 online postgres /var/lib/postgresql/15/main /var/log/x.log\n"
        "15  other  5433 online postgres /var/lib/postgresql/15/other /var/log/y.log\n"
        "16  main   5432 down   postgres /var/lib/postgresql/16/main /var/log/z.log\n"
    )
    assert postgres.debian_clusters_on(out, 5432) == [("15", "main")]
    assert postgres.debian_clusters_on(out, 15432) == []


def test_memcached_command_line() -> None:
    assert caches.memcached_args(21211, "memcache") == [
        *["memcached", "-u", "memcache", "-l", "127.0.0.1", "-p", "21211"],
        *["-U", "0", "-m", "256", "-c", "1024"],
    ]


def test_redis_command_line_keeps_blanks_in_paths() -> None:
    args = caches.redis_args(16379, Path("/a b/redis"), Path("/a b/redis/redis.log"))
    assert args[:3] == ["redis-server", "--port", "16379"]
    assert args[args.index("--dir") + 1] == "/a b/redis"
    assert args[args.index("--logfile") + 1] == "/a b/redis/redis.log"
    assert args[args.index("--save") + 1] == ""  # no RDB snapshots
    assert args[args.index("--appendonly") + 1] == "no"
    assert args[args.index("--bind") + 1] == "127.0.0.1"
    assert args[args.index("--daemonize") + 1] == "no"  # we detach it and write its pid file


# -- shared helpers ---------------------------------------------------------------------------


def test_argv_numbers_fields_across_words() -> None:
    assert system.argv("{}/pg_isready -p {} -t 2", "/x y/bin", 5432) == [
        *["/x y/bin/pg_isready", "-p", "5432", "-t", "2"]
    ]
    assert system.argv("a {name} {{x}}", name="n m") == ["a", "n m", "{x}"]


def test_listening_ports_from_proc_net_tcp() -> None:
    tcp = (
        "  sl  local_address rem_address   st tx_queue rx_queue ...\n"
        "   0: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000\n"
        "   1: 0100007F:D431 0100007F:2382 01 00000000:00000000 00:00000000 00000000\n"
    )
    tcp6 = (
        "  sl  local_address                         remote_address  st ...\n"
        "   0: 0000000000000000FFFF00000100007F:4A94 00000000000000000000000000000000:0000 0A 0\n"
    )
    assert service.listening_ports([tcp, tcp6]) == {9090, 19092}


def test_alive_in_status() -> None:
    assert service.alive_in_status("Name:\tx\nState:\tS (sleeping)\nThreads:\t9\n")
    assert not service.alive_in_status("State:\tZ (zombie)\nThreads:\t1\n")
    # A leader that exited while its other threads still shut down (and hold the ports).
    assert service.alive_in_status("State:\tZ (zombie)\nThreads:\t9\n")


def test_status_line_is_what_the_fault_harness_parses() -> None:
    line = service.status_line("kafka", "running", "127.0.0.1:9092", "pid 1, 4.1.1")
    assert line == "kafka      running   127.0.0.1:9092   pid 1, 4.1.1"
    assert line.split()[:2] == ["kafka", "running"]


def test_wait_for_stops_early_on_ready_and_dead() -> None:
    assert service.wait_for("x", 5, lambda: Probe.READY)
    assert not service.wait_for("x", 5, lambda: Probe.DEAD)
    answers = iter([Probe.WAIT, Probe.WAIT, Probe.READY])
    assert service.wait_for("x", 5, lambda: next(answers), quiet=True)
    assert not service.wait_for("x", 0.3, lambda: Probe.WAIT, quiet=True)


def test_await_ready_names_the_cause_and_the_logs(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    with pytest.raises(Fail, match=r"x: not ready \(the process exited\)") as info:
        service.await_ready("x", 5, lambda: Probe.DEAD, log)
    assert info.value.logs == (log,)


def test_spawn_records_the_pid_and_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    pidfile, logfile = tmp_path / "x.pid", tmp_path / "x.log"
    pid = service.spawn_daemon([sys.executable, "-c", stubborn], pidfile, logfile, tmp_path)
    assert service.read_pid(pidfile) == pid
    assert service.pid_matches(pid, "SIG_IGN")  # its command line is visible at once
    service.stop_pid("stubborn", pid, timeout=0.5)
    assert not service.pid_alive(pid)


def test_the_pinned_kafka_jars_cover_what_the_broker_needs() -> None:
    """The committed checksum file pins every jar the broker must have, each once."""
    pins = kafka.checksums_file("4.1.1", "2.24.3")
    pinned = kafka.pinned_checksums(pins.read_text())
    assert kafka.jar_problem(sorted(pinned), "4.1.1", "2.24.3") == ""
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in pinned.values())


def test_a_jar_that_differs_from_its_pin_is_refused() -> None:
    pinned = {"a-1.jar": "1" * 64, "b-1.jar": "2" * 64}
    assert kafka.checksum_problem(dict(pinned), pinned) == ""
    changed = {"a-1.jar": "3" * 64, "c-1.jar": "4" * 64}
    assert kafka.checksum_problem(changed, pinned) == (
        "c-1.jar not pinned; b-1.jar missing; a-1.jar has sha256 3333333333333333…,"
        " pinned 1111111111111111…"
    )


# -- the cluster's configuration --------------------------------------------------------------


def test_each_cluster_broker_has_its_own_ports_and_files_and_the_same_voters(
    tmp_path: Path,
) -> None:
    from local_services.cluster import ClusterBroker  # noqa: PLC0415

    run = Run(Config.from_env({}, tmp_path, tmp_path))
    brokers = [ClusterBroker(run, n) for n in (1, 2, 3)]
    rendered = [kafka.properties(b.rendered()) for b in brokers]
    assert len({b.dir for b in brokers}) == 3
    assert len({b.cluster_id_file() for b in brokers}) == 1  # one cluster id for all three
    assert {r["controller.quorum.voters"] for r in rendered} == {
        "1@127.0.0.1:19191,2@127.0.0.1:19192,3@127.0.0.1:19193"
    }
    assert [r["node.id"] for r in rendered] == ["1", "2", "3"]
    for props in rendered:
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["unclean.leader.election.enable"] == "false"
    assert "--standalone" not in kafka.format_command("id", Path("p"), standalone=False)
    assert "--standalone" in kafka.format_command("id", Path("p"))


def test_patroni_promotes_only_a_synchronous_standby_and_pgbouncer_pools_transactions(
    tmp_path: Path,
) -> None:
    from local_services import patroni  # noqa: PLC0415

    text = patroni.render_patroni(1, tmp_path, (19433, 19081, 0), Path("/bin"), 19379)
    assert "synchronous_mode: true" in text
    assert "use_pg_rewind: true" in text
    assert "listen: 127.0.0.1:19433" in text
    assert "hosts: 127.0.0.1:19379" in text
    ini = patroni.render_pgbouncer(19432, 19434, tmp_path)
    assert "pool_mode = transaction" in ini
    assert "* = host=127.0.0.1 port=19434" in ini
    assert "listen_addr = 127.0.0.1" in ini


def test_redis_cluster_nodes_fail_over_fast_and_serve_on_while_a_shard_is_down(
    tmp_path: Path,
) -> None:
    from local_services.cluster import redis_cluster_args  # noqa: PLC0415

    args = redis_cluster_args(19701, tmp_path, tmp_path / "log")
    pairs = dict(zip(args[1::2], args[2::2], strict=False))
    assert pairs["--cluster-enabled"] == "yes"
    assert pairs["--cluster-node-timeout"] == "2000"
    assert pairs["--cluster-require-full-coverage"] == "no"
