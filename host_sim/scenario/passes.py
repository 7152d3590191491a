"""The community's side of the credentials: each person's pass and the status list.

Pass ids are opaque (`p` + a number); the status list holds one 2-bit entry per person.
Passes are compact CWTs (what the pass tool issues by default), forged codes are payment links.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from firmware import credentials
from firmware.core import status_list as sl
from host_sim.scenario import model

STATUS_LIST_LIFETIME_S = 2 * 86400
PASS_LIFETIME_S = 30 * 86400


class Issuer:
    """Mints passes and status lists for one community with the issuer's key."""

    def __init__(self, community: str, key: dict[str, Any], population: int) -> None:
        self.community = community
        self.key = key
        self.uri = f"https://{community}.example/status/1"
        self.statuses = [0] * population

    def assign(self, people: list[model.Person]) -> list[model.Person]:
        """Give every person an index in the list (growing it when needed) and set statuses."""
        if len(people) > len(self.statuses):
            self.statuses += [0] * (len(people) - len(self.statuses))
        placed = []
        for idx, person in enumerate(people):
            self.statuses[idx] = model.STATUSES[person.status]
            placed.append(_with_idx(person, idx))
        return placed

    def set_status(self, idx: int, status: str) -> None:
        self.statuses[idx] = model.STATUSES[status]

    def status_list(self, iat: float) -> str:
        """The signed status list as of `iat` (valid for two days)."""
        return credentials.sign_token(
            {"sub": self.uri, "iat": int(iat), "exp": int(iat) + STATUS_LIST_LIFETIME_S,
             "status_list": {"bits": 2, "lst": sl.encode_lst(self.statuses)}},
            self.key, "statuslist+jwt")

    def code_for(self, person: model.Person, now: float) -> str:
        """The text of the QR code this person shows at `now` (gate time)."""
        if person.pass_type == "forged":
            return f"https://pay.example/qr/{person.idx:08d}"
        issued = int(now) - 86400
        expires = int(now) + PASS_LIFETIME_S
        if person.pass_type == "expired":
            issued, expires = int(now) - 40 * 86400, int(now) - 3 * 86400
        pt = person.pass_type if person.pass_type in ("visitor", "staff") else "resident"
        claims: dict[str, Any] = {"iss": self.community, "sub": f"p{person.idx:06d}", "pt": pt,
                                  "iat": issued, "exp": expires}
        if pt == "visitor":
            claims["jti"] = f"{person.idx:08x}"  # lowercase hex: the CWT cti
            claims["exp"] = int(now) + 6 * 3600
        else:
            claims["status"] = {"status_list": {"idx": person.idx, "uri": self.uri}}
        return credentials.sign_cwt_pass(claims, self.key)


def _with_idx(person: model.Person, idx: int) -> model.Person:
    return dataclasses.replace(person, idx=idx)
