"""`gatekiosk events`: filters and formats over a real outbox, signed USB exports that the
community-server stand-in imports without duplicates, and an outbox that is never changed."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from firmware import config, credentials
from firmware.assemble import open_outbox
from firmware.cli import build_parser
from firmware.cli import events as events_cmd
from firmware.clock import ManualClock
from firmware.store import export as record_export
from host_sim.community_server import CommunityServer
from host_sim.usb_import import import_export

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "mqtt_schema" / "examples"
START = 1_790_000_000.0  # 2026-09-21T14:13:20Z
DEVICE = "gate-0042"

# (example file, outbox kind), committed 60 s apart: seq 1 at START, seq 2 at START + 60, ...
HISTORY = [
    ("event.access-granted.json", "event"),
    ("event.denied-fever.json", "event"),
    ("alarm.fever.json", "alarm"),
    ("event.denied-home-observation.json", "event"),
    ("event.exit-request.json", "event"),
    ("event.remote-open.json", "event"),
    ("event.access-granted.json", "event"),
]
SETTLED_THROUGH = 3


def example(name: str) -> dict:
    payload = json.loads((EXAMPLES / name).read_text())
    for key in ("event_id", "stream", "seq"):
        payload.pop(key, None)
    payload["device_id"] = DEVICE
    return payload


class Gate:
    """A kiosk's data directory with an outbox holding HISTORY, seq 1-3 acknowledged."""

    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "data"
        self.config = tmp / "gatekiosk.toml"
        self.config.write_text(
            f'[device]\nid = "{DEVICE}"\ncommunity = "maple-court"\ngate = "north-1"\n'
            f'data_dir = "{self.data}"\n'
        )
        self.cfg = config.load(self.config)
        self.clock = ManualClock(start=START)
        self.data.mkdir()
        self.outbox = open_outbox(self.cfg, self.data, self.clock)
        self.stream = self.outbox.stream
        self.payloads = []
        for name, kind in HISTORY:
            self.payloads.append((kind, self.outbox.append(kind, example(name))))
            self.clock.advance(60)
        self.outbox.mark_published_many(range(1, len(HISTORY) + 1))  # all sent
        self.outbox.settle_through(self.stream, SETTLED_THROUGH)

    def close(self) -> None:
        self.outbox.close()

    def events(self, capsys, *argv: str) -> tuple[int, str, str]:
        args = build_parser(["events"]).parse_args(["events", "--config", str(self.config),
                                                     *argv])
        code = events_cmd.main(args)
        out, err = capsys.readouterr()
        return code, out, err

    def seqs(self, capsys, *argv: str) -> list[int]:
        code, out, err = self.events(capsys, *argv)
        assert code == 0, err
        return [json.loads(line)["seq"] for line in out.splitlines()]

    def files(self) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.data.glob("outbox.db*"))}

    def rows(self) -> list[tuple]:
        conn = events_cmd.open_read_only(self.data / "outbox.db")
        try:
            return (conn.execute("SELECT * FROM outbox ORDER BY seq").fetchall()
                    + conn.execute("SELECT * FROM meta ORDER BY key").fetchall())
        finally:
            conn.close()

    def public_keys(self, capsys) -> credentials.KeySet:
        code, out, _ = self.events(capsys, "--device-key")
        assert code == 0
        return credentials.KeySet.from_dict(json.loads(out))


@pytest.fixture
def gate(tmp_path):
    g = Gate(tmp_path)
    yield g
    g.close()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), [1, 2, 3, 4, 5, 6, 7]),
        (("--decision", "denied"), [2, 4]),
        (("--decision", "granted"), [1, 5, 6, 7]),
        (("--reason", "fever"), [2]),
        (("--reason", "home_observation"), [4]),
        (("--kind", "alarm"), [3]),
        (("--kind", "exit_request"), [5]),
        (("--kind", "remote_open"), [6]),
        (("--settled",), [1, 2, 3]),
        (("--unsettled",), [4, 5, 6, 7]),
        (("--since", str(int(START + 120))), [3, 4, 5, 6, 7]),
        (("--until", "2026-09-21T14:15:20Z"), [1, 2, 3]),  # START + 120, inclusive
        (("--since", "2026-09-21T22:14:20+08:00", "--until", str(START + 240)), [2, 3, 4, 5]),
        (("--unsettled", "--decision", "granted"), [5, 6, 7]),
    ],
)
def test_filters_select_the_matching_records(gate, capsys, argv, expected):
    assert gate.seqs(capsys, *argv) == expected


def test_json_lines_carry_the_record_as_committed_and_its_delivery_state(gate, capsys):
    _, out, _ = gate.events(capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["record"] for line in lines] == [p for _, p in gate.payloads]
    assert [line["settled"] for line in lines] == [True] * 3 + [False] * 4
    assert [line["type"] for line in lines] == [k for _, k in HISTORY]


def test_csv_has_one_row_per_record_with_reasons_and_temperature(gate, capsys):
    code, out, _ = gate.events(capsys, "--format", "csv", "--decision", "denied")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["seq"] for r in rows] == ["2", "4"]
    assert rows[0]["reasons"] == "fever" and rows[0]["body_c"] == "38.14"
    assert rows[1]["reasons"] == "home_observation" and rows[1]["settled"] == "False"
    assert rows[0]["settled"] == "True"  # seq 2 is within the acknowledged 1-3
    assert list(rows[0]) == list(events_cmd.CSV_COLUMNS)


def test_a_bad_time_is_one_line_and_exit_2(gate, capsys):
    code, out, err = gate.events(capsys, "--since", "yesterday")
    assert code == 2 and out == ""
    assert err == "gatekiosk events: 'yesterday' is neither ISO 8601 nor epoch seconds\n"


def test_export_of_acknowledged_records_is_a_usage_error(gate, capsys, tmp_path):
    code, _, err = gate.events(capsys, "--export", str(tmp_path / "usb"), "--settled")
    assert code == 2 and err.count("\n") == 1 and "drop --settled" in err
    assert not (tmp_path / "usb").exists()


def server() -> CommunityServer:
    return CommunityServer("127.0.0.1", 1, "maple-court")  # store only, never connected


def test_an_export_reimported_gives_the_same_records_without_duplicates(gate, capsys, tmp_path):
    stick = tmp_path / "usb"
    code, out, _ = gate.events(capsys, "--export", str(stick))
    assert code == 0 and "4 unacknowledged records" in out
    [archive] = stick.glob("*.tar")
    keys = gate.public_keys(capsys)
    srv = server()
    for kind, payload in gate.payloads[:SETTLED_THROUGH]:  # what came over MQTT earlier
        srv.deliver(kind, payload)
    report = import_export(srv, archive, keys)
    assert (report.taken, report.duplicates, report.gaps) == (4, 0, [])
    stored = [r.payload for r in srv.records(DEVICE, gate.stream)]
    assert stored == [p for _, p in gate.payloads]
    again = import_export(srv, archive, keys)
    assert (again.taken, again.duplicates) == (0, 4)
    assert srv.record_count() == len(HISTORY) and srv.conflicts == []


def test_an_import_reports_the_seqs_still_missing(gate, capsys, tmp_path):
    code, _, _ = gate.events(capsys, "--export", str(tmp_path / "usb"), "--since",
                             str(START + 300))
    assert code == 0
    [archive] = (tmp_path / "usb").glob("*.tar")
    report = import_export(server(), archive, gate.public_keys(capsys))
    assert report.taken == 2 and report.gaps == [1, 2, 3, 4, 5]


def rewrite(archive: Path, name: str, change) -> None:
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    files[name] = change(files[name])
    with tarfile.open(archive, "w") as tar:
        for n, data in files.items():
            info = tarfile.TarInfo(n)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_tampered_or_foreign_export_is_refused_and_nothing_is_taken(gate, capsys, tmp_path):
    gate.events(capsys, "--export", str(tmp_path / "usb"))
    [archive] = (tmp_path / "usb").glob("*.tar")
    stranger = credentials.KeySet.from_dict(
        {"keys": [credentials.public_jwk(credentials.generate_keypair(DEVICE))]}
    )
    srv = server()
    with pytest.raises(record_export.ExportError, match="signature refused"):
        import_export(srv, archive, stranger)
    rewrite(archive, record_export.RECORDS, lambda b: b.replace(b'"granted"', b'"denied"'))
    with pytest.raises(record_export.ExportError, match="do not match the signed manifest"):
        import_export(srv, archive, gate.public_keys(capsys))
    assert srv.record_count() == 0


def test_the_device_key_is_made_once_private_to_the_gate_and_kept(gate, capsys):
    first = gate.public_keys(capsys).kids()
    key_file = gate.data / record_export.DEVICE_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert gate.public_keys(capsys).kids() == first
    _, out, _ = gate.events(capsys, "--device-key")
    assert '"d"' not in out  # only the public half is ever printed


def test_events_never_change_the_outbox_while_the_kiosk_holds_it_open(gate, capsys, tmp_path):
    rows, files = gate.rows(), gate.files()
    main_db = (gate.data / "outbox.db").read_bytes()
    for argv in ((), ("--format", "csv"), ("--unsettled",), ("--export", str(tmp_path / "u"))):
        assert gate.events(capsys, *argv)[0] == 0
    assert gate.rows() == rows
    assert (gate.data / "outbox.db").read_bytes() == main_db
    assert gate.files() == files


def test_events_never_change_a_closed_outbox_byte_for_byte(gate, tmp_path):
    gate.close()
    before = gate.files()
    for argv in ((), ("--export", str(tmp_path / "usb")), ("--kind", "alarm")):
        done = subprocess.run(
            [sys.executable, "-m", "firmware.cli", "events", "--config", str(gate.config),
             *argv], capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
    assert gate.files() == before


def test_a_missing_outbox_is_one_line_and_exit_1(tmp_path, capsys):
    cfg = tmp_path / "g.toml"
    cfg.write_text(f'[device]\nid = "g-1"\ncommunity = "c"\ngate = "g"\n'
                   f'data_dir = "{tmp_path / "nothing"}"\n')
    args = build_parser(["events"]).parse_args(["events", "--config", str(cfg)])
    assert events_cmd.main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no outbox here" in err
    assert not (tmp_path / "nothing").exists()
