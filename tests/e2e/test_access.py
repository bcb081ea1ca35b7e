"""Issue #19: who may do what in the Dagster UI, and nothing personal through it.

One copy of the Dagster home of the session's run over the bad-file corpus
(tests/support/badfiles.py: a scale-S landing of 2018–2019 with the bad files among its
ledgers) is served twice, as in production
(docs/DEPLOY.md): the auditors' read-only webserver started by `make ui` itself, and the
operators' webserver under /ops; in front of both, nginx (Debian's package, run as a
foreground process with its own prefix in a temp folder) with the shipped
deploy/nginx-bangfu.conf.template, TLS (a self-signed certificate made by openssl here) and
one password file per role. Then:

- no password, a wrong one, the other role's: 401; the right one: the page; plain HTTP: a
  redirect to HTTPS; the GraphQL subscription's WebSocket upgrade passes through;
- the read-only UI refuses every mutation that changes what ran or will run (launch, backfill,
  wipe, schedule and sensor switches, a dynamic partition, automation pause); the operators' UI
  carries out the same requests;
- every asset's materialisation metadata and every run's event log, read through the
  webserver's GraphQL API, hold no whole ID number, mobile number or name of the ledgers'
  people, and name every file the run rejected;
- `make ui-operator` (the daemon with it) runs a launched job.

Needs nginx (scripts/system-deps.sh installs it), openssl and make: without them the test skips
outside CI and FAILS under CI=true.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bangfu.lake import Lake
from deploy import nginx as nginx_conf
from pipelines.home import instance_yaml
from tests.support import REPO as ROOT
from tests.support import free_port, missing
from tests.support.personal import HEX_RUN, MOBILE, WHOLE_ID
from tests.support.runs import copy_data, copy_folder
from warehouse import tables
from warehouse.store import Warehouse, default_url

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
LOCATION = "pipelines.definitions:defs"  # workspace.yaml's code location, as the UI names it
REPOSITORY = "__repository__"
PEOPLE_SHEETS = ("archive", "payments", "staff", "evaluation")
USERS = {"auditors": ("shenji", "Aud1t-only_7q"), "operators": ("yunwei", "Op3rate_x9z")}


# ====================================================================== processes
def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make, the webserver and its code server: one group
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_until(ready, proc: subprocess.Popen, log: Path, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} not up after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def http_ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    finally:
        conn.close()


def ui_env(data: Path, landing: Path) -> dict[str, str]:
    env = {**os.environ, "BANGFU_LANDING": str(landing), "PYTHONWARNINGS": "ignore"}
    env.pop("BANGFU_WAREHOUSE_URL", None)
    env.pop("DAGSTER_HOME", None)  # `make ui` sets it: <data>/dagster_home
    return env


def make_ui(
    data: Path, port: int, env: dict[str, str], log: Path, target: str = "ui"
) -> subprocess.Popen:
    """`make ui` (or another target), exactly the Makefile's recipe (the environment is already
    synced)."""
    make = shutil.which("make")
    if make is None:
        missing("make is missing (apt-get install -y make)")
    argv = [make, "-s", "-o", ".venv/.synced", target, f"DATA={data}", f"UI_PORT={port}"]
    return start(argv, log, env)


def operators_webserver(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The operators' webserver as docs/DEPLOY.md starts it behind nginx."""
    argv = [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)]
    argv += ["--path-prefix", "/ops", "-w", "workspace.yaml"]
    return start(argv, log, env)


def openssl(*args: str) -> str:
    return subprocess.run(
        [shutil.which("openssl") or "openssl", *args], check=True, capture_output=True, text=True
    ).stdout


def password_line(user: str, password: str) -> str:
    """A password file line as docs/DEPLOY.md makes it (`openssl passwd -6`: SHA-512 crypt)."""
    return f"{user}:{openssl('passwd', '-6', password).strip()}\n"


def start_nginx(root: Path, ui_port: int, ops_port: int) -> dict:
    """nginx in the foreground over the rendered template, everything it writes under root."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        missing("nginx is missing (apt-get install -y nginx)")
    if shutil.which("openssl") is None:
        missing("openssl is missing (apt-get install -y openssl)")
    root.mkdir(parents=True, exist_ok=True)
    cert, key = root / "cert.pem", root / "key.pem"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    )  # fmt: skip
    for role, (user, password) in USERS.items():
        (root / f"{role}.htpasswd").write_text(password_line(user, password))
    https_port, http_port = free_port(), free_port()
    conf = nginx_conf.render(
        {
            "BANGFU_SERVER_NAME": "localhost",
            "BANGFU_LISTEN_ADDRESS": "127.0.0.1",
            "BANGFU_HTTP_PORT": str(http_port),
            "BANGFU_HTTPS_PORT": str(https_port),
            "BANGFU_TLS_CERT": str(cert),
            "BANGFU_TLS_KEY": str(key),
            "BANGFU_AUDITORS_HTPASSWD": str(root / "auditors.htpasswd"),
            "BANGFU_OPERATORS_HTPASSWD": str(root / "operators.htpasswd"),
            "BANGFU_UI_PORT": str(ui_port),
            "BANGFU_OPS_PORT": str(ops_port),
            "BANGFU_NGINX_LOG_DIR": str(root),
        }
    )
    (root / "bangfu.conf").write_text(conf)
    temp = "\n".join(
        f"    {kind}_temp_path {root / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    # What /etc/nginx/nginx.conf gives a conf.d file: the http block around it.
    (root / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")  # workers as root: the temp folder is 0700
        + f"worker_processes 1;\npid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\n"
        + "events { worker_connections 64; }\n"
        + f"http {{\n{temp}\n    uwsgi_temp_path {root / 'uwsgi'};\n"
        + f"    scgi_temp_path {root / 'scgi'};\n    include {root / 'bangfu.conf'};\n}}\n"
    )
    argv = [nginx, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")]
    checked = subprocess.run([*argv, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = start([*argv, "-g", "daemon off;"], root / "nginx.out")

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", https_port), timeout=2):
            return True

    wait_until(listening, proc, root / "error.log", "nginx", timeout=30)
    tls = ssl.create_default_context(cafile=str(cert))
    return {"proc": proc, "https": https_port, "http": http_port, "tls": tls, "root": root}


# ====================================================================== the servers
@pytest.fixture(scope="module")
def site(bad_corpus, bad_run, tmp_path_factory):
    """Both webservers over one copy of the Dagster home of `bangfu run` over the bad-file
    corpus (the session's run: the home inside the data folder, as `make demo` has it), nginx
    in front."""
    assert bad_run["code"] == 1, bad_run["stdout"][-3000:]  # the bad files fail, the rest runs
    assert "✗" in bad_run["stdout"]
    root = tmp_path_factory.mktemp("access")
    data = root / "data"
    data.mkdir(mode=0o700)
    home = data / "dagster_home"
    copy_folder(bad_run["home"], home)
    (home / "dagster.yaml").write_text(
        instance_yaml(home)
    )  # launches queue: no daemon here runs them
    env = ui_env(data, bad_corpus.landing)
    ops_env = {**env, "BANGFU_DATA": str(data), "DAGSTER_HOME": str(home)}
    ui_port, ops_port = free_port(), free_port()
    procs = [
        make_ui(data, ui_port, env, root / "ui.log"),
        operators_webserver(ops_port, ops_env, root / "ops.log"),
    ]
    try:
        wait_until(lambda: http_ok(ui_port, "/server_info"), procs[0], root / "ui.log", "make ui")
        wait_until(
            lambda: http_ok(ops_port, "/ops/server_info"), procs[1], root / "ops.log", "ops UI"
        )
        proxy = start_nginx(root / "nginx", ui_port, ops_port)
        procs.append(proxy["proc"])
        yield {**proxy, "ui_port": ui_port, "ops_port": ops_port, "run": bad_run}
    finally:
        for proc in reversed(procs):
            stop(proc)


def request(site, path, *, role=None, password=None, method="GET", body=None, headers=()):
    """One HTTPS request through nginx: (status, headers, body text)."""
    conn = http.client.HTTPSConnection("127.0.0.1", site["https"], context=site["tls"], timeout=60)
    head = dict(headers)
    if role is not None:
        user, right = USERS[role]
        token = base64.b64encode(f"{user}:{password or right}".encode()).decode()
        head["Authorization"] = f"Basic {token}"
    try:
        conn.request(method, path, body=body, headers=head)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def graphql(site, role: str, query: str, variables: dict | None = None) -> dict:
    """A GraphQL request of the role's UI through nginx; a refused one may come back as HTTP
    500 with the error in the body (Dagster's check_permission raises)."""
    path = "/ops/graphql" if role == "operators" else "/graphql"
    body = json.dumps({"query": query, "variables": variables or {}})
    status, _, text = request(
        site, path, role=role, method="POST", body=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert status in (200, 400, 500), (status, text[:500])
    return json.loads(text)


# ====================================================================== the shipped config
def test_template_renders_every_name_and_only_those():
    values = {
        "BANGFU_SERVER_NAME": "audit.example.org",
        "BANGFU_TLS_CERT": "/c",
        "BANGFU_TLS_KEY": "/k",
    }
    text = nginx_conf.render(values)
    assert "${" not in text
    assert "listen *:443 ssl;" in text and "proxy_pass http://127.0.0.1:3001;" in text
    assert "$http_upgrade" in text and "$bangfu_connection_upgrade" in text  # nginx's own
    with pytest.raises(ValueError, match="BANGFU_TLS_CERT"):
        nginx_conf.render({"BANGFU_SERVER_NAME": "x", "BANGFU_TLS_KEY": "/k"})


# ====================================================================== authentication
@pytest.mark.parametrize("path,role", [("/", "auditors"), ("/ops/", "operators")])
def test_password_required(site, path, role):
    status, headers, _ = request(site, path)
    assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic")
    assert request(site, path, role=role, password="wrong-password")[0] == 401
    other = "operators" if role == "auditors" else "auditors"
    assert request(site, path, role=other)[0] == 401  # one password file per role
    status, _, page = request(site, path, role=role)
    assert status == 200 and "<title" in page and "Dagster" in page
    # who saw what: the access log names the user of every request (nginx writes the line
    # once the response is out, so it may come a moment after the page)
    user, deadline = USERS[role][0], time.monotonic() + 10
    while True:
        lines = (site["root"] / "bangfu-access.log").read_text().splitlines()
        ok = [ln for ln in lines if f" {user} [" in ln and f'"GET {path} HTTP/1.1" 200' in ln]
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ok, lines[-5:]


def test_password_file_is_read_per_request(site):
    """Adding or removing a person is an edit of the file, no reload (docs/DEPLOY.md)."""
    path = site["root"] / "auditors.htpasswd"
    before = path.read_text()
    user, password = "xinren", "N3w-auditor_k2"
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    head = {"Authorization": f"Basic {token}"}
    assert request(site, "/", headers=head)[0] == 401
    try:
        path.write_text(before + password_line(user, password))
        assert request(site, "/", headers=head)[0] == 200
    finally:
        path.write_text(before)
    assert request(site, "/", headers=head)[0] == 401


def test_operators_ui_served_under_its_prefix(site):
    status, headers, _ = request(site, "/ops", role="operators")
    assert status == 301 and headers["Location"].endswith("/ops/")
    status, _, text = request(site, "/ops/server_info", role="operators")
    assert status == 200 and "dagster_webserver_version" in text


def test_plain_http_redirects_to_https(site):
    conn = http.client.HTTPConnection("127.0.0.1", site["http"], timeout=10)
    conn.request("GET", "/assets")
    resp = conn.getresponse()
    assert resp.status == 301
    assert resp.getheader("Location") == f"https://127.0.0.1:{site['https']}/assets"
    conn.close()


def test_graphql_subscription_upgrades_through_the_proxy(site):
    """The UI's live run logs come over a WebSocket on /graphql: nginx must pass the upgrade."""
    user, password = USERS["auditors"]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    raw = socket.create_connection(("127.0.0.1", site["https"]), timeout=30)
    with site["tls"].wrap_socket(raw, server_hostname="localhost") as conn:
        conn.sendall(
            (
                "GET /graphql HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                f"Sec-WebSocket-Protocol: graphql-ws\r\nAuthorization: Basic {token}\r\n\r\n"
            ).encode()
        )
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 101"), status_line


# ====================================================================== what each role may do
def _states(site) -> dict:
    return _states_by(lambda text, variables=None: graphql(site, "auditors", text, variables))


def _states_by(query) -> dict:
    """Instigator ids of the schedule and the sensor, as the UI's stop buttons send them."""
    got = query(
        """query($r: RepositorySelector!) {
          schedulesOrError(repositorySelector: $r) {
            ... on Schedules { results { name scheduleState { id selectorId status } } } }
          sensorsOrError(repositorySelector: $r) {
            ... on Sensors { results { name sensorState { id selectorId status } } } } }""",
        {"r": REPO},
    )["data"]
    schedule = {s["name"]: s["scheduleState"] for s in got["schedulesOrError"]["results"]}
    sensor = {s["name"]: s["sensorState"] for s in got["sensorsOrError"]["results"]}
    return {"schedule": schedule["nightly_schedule"], "sensor": sensor["landing_sensor"]}


REPO = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
SCHEDULE = {**REPO, "scheduleName": "nightly_schedule"}
SENSOR = {**REPO, "sensorName": "landing_sensor"}
TEST_TAG = {"key": "test", "value": "access"}
RESULT = "__typename ... on UnauthorizedError { message } ... on PythonError { message }"

# (what, mutation, its variables (a callable of the id lookup), the operators' result type)
MUTATIONS = [
    (
        "launch a run",
        f"""mutation($p: ExecutionParams!) {{ launchRun(executionParams: $p) {{ {RESULT}
            ... on LaunchRunSuccess {{ run {{ runId status }} }} }} }}""",
        lambda ids: {
            "p": {
                "selector": {**REPO, "jobName": "reference_job"},
                "mode": "default",
                "runConfigData": "{}",
                "executionMetadata": {"tags": [TEST_TAG]},
            }
        },
        "LaunchRunSuccess",
    ),
    (
        "launch a backfill",
        f"""mutation($p: LaunchBackfillParams!) {{ launchPartitionBackfill(backfillParams: $p)
            {{ {RESULT} ... on LaunchBackfillSuccess {{ backfillId }} }} }}""",
        lambda ids: {
            "p": {
                "assetSelection": [{"path": ["unit_findings"]}],
                "partitionNames": ["330000|2019"],
            }
        },
        "LaunchBackfillSuccess",
    ),
    (
        "start the schedule",
        f"""mutation($s: ScheduleSelector!) {{ startSchedule(scheduleSelector: $s) {{ {RESULT}
            ... on ScheduleStateResult {{ scheduleState {{ status }} }} }} }}""",
        lambda ids: {"s": SCHEDULE},
        "ScheduleStateResult",
    ),
    (
        "stop the schedule",
        f"""mutation($id: String!, $sid: String!) {{
            stopRunningSchedule(id: $id, scheduleSelectorId: $sid) {{ {RESULT}
            ... on ScheduleStateResult {{ scheduleState {{ status }} }} }} }}""",
        lambda ids: {"id": ids["schedule"]["id"], "sid": ids["schedule"]["selectorId"]},
        "ScheduleStateResult",
    ),
    (
        "start the sensor",
        f"""mutation($s: SensorSelector!) {{ startSensor(sensorSelector: $s) {{ {RESULT}
            ... on Sensor {{ sensorState {{ status }} }} }} }}""",
        lambda ids: {"s": SENSOR},
        "Sensor",
    ),
    (
        "stop the sensor",
        f"""mutation($id: String!, $sid: String!) {{
            stopSensor(id: $id, jobSelectorId: $sid) {{ {RESULT}
            ... on StopSensorMutationResult {{ instigationState {{ status }} }} }} }}""",
        lambda ids: {"id": ids["sensor"]["id"], "sid": ids["sensor"]["selectorId"]},
        "StopSensorMutationResult",
    ),
    (
        "add a dynamic partition",
        f"""mutation($r: RepositorySelector!) {{ addDynamicPartition(repositorySelector: $r,
            partitionsDefName: "ledger_years", partitionKey: "2099") {{ {RESULT}
            ... on AddDynamicPartitionSuccess {{ partitionKey }} }} }}""",
        lambda ids: {"r": REPO},
        "AddDynamicPartitionSuccess",
    ),
    (
        "pause automation",
        "mutation { setAutoMaterializePaused(paused: true) }",
        lambda ids: {},
        None,  # a Boolean, no result type: refused as a GraphQL error
    ),
    (
        "wipe an asset",  # last: the operators' wipe changes the copy the walk below reads
        f"""mutation($k: [PartitionsByAssetSelector!]!) {{ wipeAssets(assetPartitionRanges: $k)
            {{ {RESULT} ... on AssetWipeSuccess {{ assetPartitionRanges {{ assetKey {{ path }} }} }} }} }}""",
        lambda ids: {"k": [{"assetKey": {"path": ["landing_inventory"]}}]},
        "AssetWipeSuccess",
    ),
]
IDS = [m[0] for m in MUTATIONS]


def _outcome(got: dict) -> tuple[str | None, str]:
    """(result type, error text) of a one-field mutation response."""
    errors = " ".join(e.get("message", "") for e in got.get("errors") or [])
    data = got.get("data") or {}
    value = next(iter(data.values()), None) if data else None
    typename = value.get("__typename") if isinstance(value, dict) else None
    if typename is None and value is not None:
        typename = type(value).__name__  # a scalar result (setAutoMaterializePaused)
    return typename, errors


@pytest.mark.parametrize("what,mutation,variables,ok", MUTATIONS, ids=IDS)
def test_read_only_ui_refuses(site, what, mutation, variables, ok):
    typename, errors = _outcome(graphql(site, "auditors", mutation, variables(_states(site))))
    if ok is None:
        assert typename is None and "authoriz" in errors.lower(), (typename, errors)
    else:
        assert typename == "UnauthorizedError", (what, typename, errors)


def test_read_only_ui_changed_nothing(site):
    """Refused means nothing happened: no run, no backfill, switches as they were by default
    (the schedule off, the landing sensor on), no new partition."""
    states = _states(site)
    assert (states["schedule"]["status"], states["sensor"]["status"]) == ("STOPPED", "RUNNING")
    got = graphql(
        site,
        "auditors",
        """{ runsOrError { ... on Runs { results { runId tags { key value } } } }
             partitionBackfillsOrError { ... on PartitionBackfills { results { id } } }
             assetNodes { assetKey { path } partitionKeysByDimension { name partitionKeys } } }""",
    )["data"]
    runs = got["runsOrError"]["results"]
    assert len(runs) >= 4 and not [r for r in runs if TEST_TAG in r["tags"]]
    assert got["partitionBackfillsOrError"]["results"] == []
    years = {
        key
        for node in got["assetNodes"]
        for dim in node["partitionKeysByDimension"]
        if dim["name"] == "year"
        for key in dim["partitionKeys"]
    }
    assert years and "2099" not in years


# ====================================================================== nothing personal
def people(data: Path) -> dict[str, set[str]]:
    """Whole ID numbers, mobile numbers and names of the people in a run's lake, and the IDs of
    rows it quarantined (kept whole in the warehouse)."""
    lake = Lake(data / "lake")
    ids: set[str] = set()
    phones: set[str] = set()
    names: set[str] = set()
    for sheet in PEOPLE_SHEETS:
        frame = lake.read(sheet)
        for column, into in (("id_number", ids), ("phone", phones), ("name", names)):
            if column in frame.columns:
                into |= set(frame[column].drop_nulls())
    wh = Warehouse(default_url(data))
    try:
        values = wh.read(tables.quarantine)["value"].drop_nulls()
    finally:
        wh.dispose()
    for value in values:
        ids |= set(WHOLE_ID.findall(value))
    return {
        "ids": ids,
        "phones": {p for p in phones if MOBILE.fullmatch(p)},
        "names": {n for n in names if len(n) >= 2},
    }


def personal_in(text: str, who: dict[str, set[str]]) -> list[str]:
    text = HEX_RUN.sub("#", text)
    found = set(WHOLE_ID.findall(text)) | {m for m in MOBILE.findall(text) if m in who["phones"]}
    found |= {x for x in who["ids"] | who["names"] if x in text}
    return sorted(found)


META_ENTRY = """__typename label description
  ... on TextMetadataEntry { text } ... on MarkdownMetadataEntry { mdStr }
  ... on JsonMetadataEntry { jsonString } ... on PathMetadataEntry { path }
  ... on UrlMetadataEntry { url } ... on NotebookMetadataEntry { path }
  ... on IntMetadataEntry { intRepr } ... on FloatMetadataEntry { floatRepr: floatValue }
  ... on TableMetadataEntry { table { records schema { columns { name description } } } }
  ... on TableSchemaMetadataEntry { schema { columns { name description type } } }
  ... on PythonArtifactMetadataEntry { module name } ... on AssetMetadataEntry { assetKey { path } }"""
ERROR = "message stack causes { message stack } cause { message stack }"
EVENT = f"""__typename
  ... on MessageEvent {{ message level stepKey eventType }}
  ... on DisplayableEvent {{ label description metadataEntries {{ {META_ENTRY} }} }}
  ... on MaterializationEvent {{ partition tags {{ key value }} }}
  ... on ObservationEvent {{ partition tags {{ key value }} }}
  ... on ErrorEvent {{ error {{ {ERROR} }} }}
  ... on LogsCapturedEvent {{ fileKey stepKeys }}
  ... on AssetCheckEvaluationEvent {{ evaluation {{ checkName description partition
        metadataEntries {{ {META_ENTRY} }} }} }}"""


def strings(value) -> list[str]:
    """Every string in a decoded JSON value (keys included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def walk_ui(query) -> dict[str, int | list]:
    """Every asset's materialisations with their metadata, every run's whole event log and its
    steps' captured output, through the UI's GraphQL API (``query(text, variables)``); the strings found in them, and
    how much was read."""
    assets = query(
        f"""{{ assetNodes {{ assetKey {{ path }} description metadataEntries {{ {META_ENTRY} }}
               assetMaterializations(limit: 10000) {{ partition runId
                 metadataEntries {{ {META_ENTRY} }} }} }} }}""",
    )
    assert not assets.get("errors"), assets["errors"][:2]
    nodes = assets["data"]["assetNodes"]
    texts = strings(nodes)
    n_materialisations = sum(len(n["assetMaterializations"]) for n in nodes)
    assert max(len(n["assetMaterializations"]) for n in nodes) < 10000  # none cut off
    runs = query(
        "{ runsOrError { ... on Runs { results { runId jobName tags { key value } } } } }",
    )
    n_events = n_captured = 0
    for run in runs["data"]["runsOrError"]["results"]:
        texts += strings(run)
        cursor, file_keys = None, set()
        while True:
            got = query(
                f"""query($id: ID!, $c: String) {{ logsForRun(runId: $id, afterCursor: $c,
                    limit: 2000) {{ __typename ... on EventConnection {{ cursor hasMore
                    events {{ {EVENT} }} }} ... on PythonError {{ message }} }} }}""",
                {"id": run["runId"], "c": cursor},
            )
            assert not got.get("errors"), got["errors"][:2]
            conn = got["data"]["logsForRun"]
            assert conn["__typename"] == "EventConnection", conn
            n_events += len(conn["events"])
            texts += strings(conn["events"])
            file_keys |= {e["fileKey"] for e in conn["events"] if e.get("fileKey")}
            if not conn["hasMore"]:
                break
            cursor = conn["cursor"]
        # the steps' captured stdout and stderr (the UI's raw compute log view)
        for file_key in sorted(file_keys):
            got = query(
                """query($k: [String!]!) { capturedLogs(logKey: $k) { stdout stderr } }""",
                {"k": [run["runId"], "compute_logs", file_key]},
            )
            assert not got.get("errors"), got["errors"][:2]
            n_captured += len(got["data"]["capturedLogs"]["stderr"] or "")
            texts += strings(got["data"]["capturedLogs"])
    return {
        "texts": texts,
        "materialisations": n_materialisations,
        "runs": len(runs["data"]["runsOrError"]["results"]),
        "events": n_events,
        "captured": n_captured,
    }


def assert_nothing_personal(walked: dict, who: dict[str, set[str]]) -> None:
    assert len(who["ids"]) > 500 and len(who["phones"]) > 100 and len(who["names"]) > 500
    # the detector detects: a whole ID, a phone and a name of the data, glued to text
    some = [sorted(who[k])[0] for k in ("ids", "phones", "names")]
    assert personal_in("身份证" + "，".join(some) + "。", who) == sorted(some)
    leaks: dict[str, list[str]] = {}
    for text in walked["texts"]:
        found = personal_in(text, who)
        if found:
            leaks.setdefault(text[:300], found)
    assert leaks == {}, list(leaks.items())[:10]


def test_nothing_personal_through_the_ui(site, bad_corpus):
    walked = walk_ui(lambda text, variables=None: graphql(site, "auditors", text, variables))
    assert walked["runs"] >= 4 and walked["events"] > 100 and walked["materialisations"] > 50
    assert walked["captured"] > 1000  # the steps' stderr (Dagster's log lines) was read
    assert any(t == "findings" for t in walked["texts"])  # metadata labels were read
    # the walk read what the run said about the bad files: every rejected file is named
    rejected = {p.path for p in bad_corpus.planted if p.outcome == "rejected"}
    named = {path for path in rejected if any(path in t for t in walked["texts"])}
    assert rejected and named == rejected, sorted(rejected - named)
    assert_nothing_personal(walked, people(site["run"]["data"]))


# ====================================================================== operators
@pytest.mark.parametrize("what,mutation,variables,ok", MUTATIONS, ids=IDS)
def test_operators_ui_carries_them_out(site, what, mutation, variables, ok):
    typename, errors = _outcome(graphql(site, "operators", mutation, variables(_states(site))))
    assert (typename, errors) == (ok or "bool", ""), what


# ====================================================================== `make ui-operator`
def post_graphql(port: int, query: str, variables: dict | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        body = json.dumps({"query": query, "variables": variables or {}})
        conn.request("POST", "/graphql", body=body, headers={"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_make_ui_operator_runs_a_job(bad_corpus, bad_run, tmp_path):
    """`make ui-operator` (the operators' UI on a workstation, with the daemon) over a copy of
    the bad-file corpus's run: a launch from its GraphQL API runs to success, and the schedule
    switches on and off."""
    port = free_port()
    data, landing = copy_data(bad_run["data"], tmp_path / "data"), bad_corpus.landing
    proc = make_ui(data, port, ui_env(data, landing), tmp_path / "dev.log", "ui-operator")
    try:
        wait_until(
            lambda: http_ok(port, "/server_info"), proc, tmp_path / "dev.log", "make ui-operator"
        )

        def query(text, variables=None):
            return post_graphql(port, text, variables)

        launch = MUTATIONS[0]
        typename, errors = _outcome(query(launch[1], launch[2]({})))
        assert (typename, errors) == ("LaunchRunSuccess", "")
        got = query("{ runsOrError { ... on Runs { results { runId tags { key value } } } } }")
        run_id = next(
            r["runId"] for r in got["data"]["runsOrError"]["results"] if TEST_TAG in r["tags"]
        )
        status, deadline = None, time.monotonic() + 300
        while status not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
            time.sleep(2)
            run = query(
                "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                {"id": run_id},
            )
            status = run["data"]["runOrError"]["status"]
        assert status == "SUCCESS", (status, (tmp_path / "dev.log").read_text()[-3000:])
        for what in ("start the schedule", "stop the schedule"):
            _, mutation, variables, ok = next(m for m in MUTATIONS if m[0] == what)
            states = _states_by(query)
            assert _outcome(query(mutation, variables(states))) == (ok, ""), what
    finally:
        stop(proc)
