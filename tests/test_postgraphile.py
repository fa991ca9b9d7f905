"""A real RPC client: PostGraphile (from npm), started against a database with pgrun, exposes
add_job through a role made by `pgrun grant enqueue`; a GraphQL mutation enqueues a job that a
pgrun worker then runs. Skipped only where Node.js is absent."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import pgrun
from support import cli

POSTGRAPHILE = "postgraphile@4"
CACHE = Path(os.environ.get("PGRUN_NODE_CACHE", Path.home() / ".cache" / "pgrun-tests" / "postgraphile"))

RAN: list[dict] = []

# The mutation docs/rpc.md shows, run as it is written there (its task renamed).
DOC = Path(__file__).resolve().parents[1] / "docs" / "rpc.md"


def doc_mutation(task: str) -> str:
    block = re.search(r"```graphql\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/rpc.md lost its GraphQL example"
    return block.group(1).replace('identifier: "send_email"', f'identifier: "{task}"')


def hello(payload, helpers):
    RAN.append(payload)


@pytest.fixture(scope="module")
def postgraphile_bin() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js (node and npm) is not installed: PostGraphile cannot run here")
    binary = CACHE / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
                        "--loglevel=error", POSTGRAPHILE], check=True, timeout=600)
    return binary


@pytest.fixture
def web_role(conn):
    name = f"pgrun_test_graphql_{os.getpid()}"
    conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))
    conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(name)))
    yield name
    conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))   # its grants, in this database
    conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_graphql_mutation_enqueues_a_job_that_a_worker_runs(dsn, conn, web_role, postgraphile_bin):
    assert cli("grant", "enqueue", web_role, "--task", "graphql.hello", "--connection", dsn)[0] == 0
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    url = f"postgres://{info['user']}@{info['host']}:{info['port']}/{info['dbname']}"
    port = _free_port()
    server = subprocess.Popen([str(postgraphile_bin), "-c", url, "-s", "pgrun", "--default-role", web_role,
                               "-n", "127.0.0.1", "-p", str(port), "--disable-query-log"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:   # until it says it listens (or it ends)
            if "server listening" in line:
                break
        else:
            pytest.fail(f"PostGraphile ended with {server.wait()} before it listened")

        added = _graphql(port, doc_mutation("graphql.hello"))
        refused = _graphql(port, 'mutation { addJob(input: {identifier: "admin.purge"}) '
                                 '{ _privateJob { id } } }')
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()

    job = added["data"]["addJob"]["_privateJob"]
    assert job["taskIdentifier"] == "graphql.hello"
    assert refused["errors"][0]["message"] == f"role {web_role} may not enqueue task 'admin.purge'"
    assert conn.execute("select created_by, payload from pgrun._private_jobs where id = %s",
                        (int(job["id"]),)).fetchone() == (web_role, {"to": "hopper@example.com"})

    RAN.clear()
    assert pgrun.run_once({"graphql.hello": hello}, connection=dsn).completed == 1
    assert RAN == [{"to": "hopper@example.com"}]
