"""The community server's side of a USB export: verify it, then take its records.

    python -m host_sim.usb_import --device-key gate-0042.jwks EXPORT.tar...

Each export is verified against the device's registered public key (`gatekiosk events
--device-key` on the gate) before anything is taken; its records then go through the
stand-in's normal delivery path, so a record that already came over MQTT (or in an earlier
export) is a duplicate, never a second copy, and seqs still missing are reported as gaps.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from firmware import credentials
from firmware.store.export import Export, ExportError, read_export
from host_sim.community_server import CommunityServer


@dataclass(frozen=True)
class ImportReport:
    device_id: str
    stream: str
    taken: int  # new records
    duplicates: int
    gaps: list[int]  # seqs still missing from 1 to the highest held


def import_export(server: CommunityServer, path: Path,
                  device_keys: credentials.KeySet) -> ImportReport:
    """Verify `path`, deliver its records to `server`; ExportError if it cannot be trusted."""
    export: Export = read_export(path, device_keys)
    for record in export.records:
        payload = record.get("payload")
        if (not isinstance(payload, dict) or payload.get("device_id") != export.device_id
                or payload.get("stream") != export.stream):
            raise ExportError(f"{path.name}: a record is not from {export.device_id}")
    before_count, before_dups = server.record_count(), server.duplicates
    for record in export.records:
        server.deliver(str(record["type"]), record["payload"])
    return ImportReport(
        export.device_id,
        export.stream,
        server.record_count() - before_count,
        server.duplicates - before_dups,
        server.gaps(export.device_id, export.stream),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usb_import", description=__doc__.splitlines()[0])
    parser.add_argument("--device-key", required=True, type=Path, help="device public JWKS")
    parser.add_argument("exports", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        keys = credentials.KeySet.load(args.device_key)
    except (credentials.KeySetError, OSError) as exc:
        sys.stderr.write(f"usb_import: {exc}\n")
        return 2
    # Offline: the stand-in is used for its store only, never connected to a broker.
    server = CommunityServer("127.0.0.1", 1, "offline-import")
    status = 0
    for path in args.exports:
        try:
            r = import_export(server, path, keys)
        except ExportError as exc:
            sys.stderr.write(f"usb_import: {exc}\n")
            status = 1
            continue
        print(f"{path.name}: {r.device_id}/{r.stream}: {r.taken} new, {r.duplicates} "
              f"duplicates, gaps: {r.gaps or 'none'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
