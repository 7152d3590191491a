"""People sent through a simulated gate, for the screen and voice tests and `make bench`.

`VisitorGate` is a `SimRig` on a `ManualClock` with a signed status list: `visit(...)` shows a
resident's pass to the camera, puts a forehead in front of the thermometer, and runs the real
gate loop until the decision. Everything the person sees and hears goes through the rig's real
`Indicator`, to which a screen server or a voice player subscribes.
"""

from __future__ import annotations

from pathlib import Path

from firmware import config, credentials
from firmware.clock import ManualClock
from firmware.core import status_list as sl
from firmware.hw.indicator import Indicator
from host_sim.rig import SimRig, write_keys

COMMUNITY = "sunshine-garden"
URI = "https://sunshine-garden.example/sl/1"
START = 1_790_000_000.0
CONFIG = f"""
[device]
id = "gate-0042"
community = "{COMMUNITY}"
gate = "north-1"
[door]
cooldown_s = 0.5
[temperature]
fever_hold_s = 1.0
"""
# Status-list index of each kind of resident in `visit`.
STATUS_INDEX = {"normal": 1, "revoked": 2, "home_observation": 3}


class VisitorGate:
    """A simulated gate and the community that issues its passes."""

    def __init__(self, workdir: Path, extra_config: str = "") -> None:
        self.clock = ManualClock(start=START)
        self.keys = write_keys(Path(workdir) / "keys")
        cfg = config.parse(CONFIG + extra_config)
        self.rig = SimRig(cfg, Path(workdir) / "gate", clock=self.clock, keys=self.keys)
        statuses = [0] * 16
        for status, idx in (("revoked", 1), ("home_observation", 2)):
            statuses[STATUS_INDEX[status]] = idx
        now = int(self.clock.time())
        token = credentials.sign_token(
            {
                "sub": URI,
                "iat": now,
                "exp": now + 86400,
                "status_list": {"bits": 2, "lst": sl.encode_lst(statuses)},
            },
            self.keys["issuer"],
            "statuslist+jwt",
        )
        self.rig.inbox.mqtt_message("status-list", None, token.encode(), True)
        self.rig.gate.process_pending()
        self._passes = 0

    @property
    def indicator(self) -> Indicator:
        return self.rig.indicator

    def pass_token(self, status: str = "normal", unit: str | None = "3-2-501") -> str:
        """A fresh resident pass whose holder has `status` on the list."""
        self._passes += 1
        now = int(self.clock.time())
        claims = credentials.pass_claims(
            COMMUNITY, f"p-{self._passes:04d}", "resident", issued_at=now - 60,
            expires=now + 86400, status_idx=STATUS_INDEX[status], status_uri=URI,
            **({"unit": unit} if unit else {}),
        )
        return credentials.sign_token(claims, self.keys["issuer"], "gatepass+jwt")

    def visit(
        self, body_c: float | None = 36.6, status: str = "normal", seconds: float = 8.0
    ) -> str:
        """One person: pass, forehead, decision; returns the outcome the indicator showed."""
        self.rig.present(self.pass_token(status))
        self.rig.step()
        if body_c is not None:
            self.rig.face_sensor(body_c)
        for _ in range(round(seconds / 0.125)):
            self.rig.step()
            if self.rig.indicator.current in ("granted", "denied", "fever"):
                break
        outcome = str(self.rig.indicator.current)
        self.rig.walk_away()
        return outcome

    def settle(self, seconds: float = 2.0) -> None:
        """Let the cool-down pass: the gate goes back to idle."""
        self.rig.run_for(seconds, read_camera=False)

    def close(self) -> None:
        self.rig.close()
