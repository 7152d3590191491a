"""The boot page and its server without a browser: what is built, what is served and refused,
that the server needs only the standard library and tells systemd when it listens."""

from __future__ import annotations

import http.client
import os
import re
import socket
from importlib import resources
from urllib.parse import urlsplit

import pytest

from firmware.core import prompts
from firmware.screen import boot, boot_page
from firmware.screen.settings import NOTO_CJK_DIR, ScreenSettings
from host_sim.broker import free_port
from host_sim.screen_browser import start_boot_server


def get(url: str, path: str) -> tuple[http.client.HTTPResponse, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


def asset(name: str) -> bytes:
    return resources.files("firmware.screen").joinpath("assets", name).read_bytes()


def test_the_server_serves_the_boot_page_and_fonts_only_with_a_strict_policy(boot_site):
    policy = boot.csp(boot_site.screen_url)
    assert f"connect-src http://127.0.0.1:{boot_site.screen_port};" in policy
    assert "default-src 'none'" in policy and "https:" not in policy
    for path, ctype in (
        ("/", "text/html"),
        ("/boot.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/fonts/NotoSansCJK-Bold.ttc", "font/collection"),
    ):
        response, body = get(boot_site.url, path)
        assert response.status == 200 and body, path
        assert response.getheader("Content-Type").startswith(ctype), path
        assert response.getheader("Content-Security-Policy") == policy, path
    assert get(boot_site.url, "/style.css")[1] == asset("style.css")
    assert get(boot_site.url, "/")[0].getheader("Cache-Control") == "no-store"
    for path in (
        "/index.html",
        "/../conftest.py",
        "/%2e%2e/etc/passwd",
        "/events",
        "/fonts/NotoSerifCJK-Bold.ttc",
        "/fonts/../../../etc/passwd",
    ):
        response, _ = get(boot_site.url, path)
        assert response.status == 404, path
        assert response.getheader("Content-Security-Policy") == policy, path


def test_the_page_is_the_out_of_service_state_in_display_order_with_the_live_look():
    url = "http://127.0.0.1:8310/"
    files = boot_page.render(ScreenSettings(primary_language="ko"), url)
    assert set(files) == {"index.html", "boot.js", "style.css"}
    assert files["style.css"] == asset("style.css") and files["boot.js"] == asset("boot.js")
    page = files["index.html"].decode()
    for kind, texts in (
        ("prompt-line", prompts.for_step(prompts.OUT_OF_SERVICE)),
        ("next-line", prompts.next_for_step(prompts.OUT_OF_SERVICE)),
    ):
        lines = re.findall(rf'<p lang="(\w+)" class="{kind} (\w+)">([^<]*)</p>', page)
        assert lines == [
            ("ko", "primary", texts["ko"]),
            ("zh", "secondary", texts["zh"]),
            ("en", "secondary", texts["en"]),
        ]
    assert '<html lang="ko">' in page
    symbol = re.search(r'<symbol id="sym-out_of_service".*?</symbol>', page, re.S)
    assert symbol is not None and symbol.group(0).encode() in asset("index.html")
    assert '"screen_url": "http://127.0.0.1:8310/"' in page
    assert re.findall(r"https?://[^\"']*", page) == [url]
    assert "{{" not in page


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5:8310/",
        "https://127.0.0.1:8310/",
        "http://localhost:8310/",
        "http://127.0.0.1/",
    ],
)
def test_only_a_loopback_http_screen_url_is_taken(url):
    with pytest.raises(ValueError, match="--screen-url"):
        boot_page.render(ScreenSettings(), url)
    assert boot.main(["--port", "0", "--screen-url", url]) == 2


def test_the_server_refuses_a_non_loopback_address(capsys):
    assert boot.main(["--bind", "0.0.0.0", "--port", "0"]) == 2
    assert capsys.readouterr().err == "screen-boot: --bind: 0.0.0.0 is not a loopback address\n"


def test_writing_the_page_again_changes_nothing(tmp_path):
    files = boot_page.render(ScreenSettings(), "http://127.0.0.1:8310/")
    assert boot_page.write(tmp_path, files) == ["boot.js", "index.html", "style.css"]
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.iterdir()}
    assert boot_page.write(tmp_path, files) == []
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.iterdir()} == before
    assert boot_page.write(tmp_path, {**files, "boot.js": b"//"}) == ["boot.js"]


def test_the_server_runs_on_the_standard_library_alone_and_tells_systemd_it_is_ready(tmp_path):
    # `python -I` puts neither the project nor site-packages on the path: stdlib only.
    files = boot_page.render(ScreenSettings(), "http://127.0.0.1:8310/")
    boot_page.write(tmp_path / "site", files)
    notify = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(notify))
        listener.settimeout(10)
        env = {**os.environ, "NOTIFY_SOCKET": str(notify)}
        process, url = start_boot_server(
            tmp_path / "site", "http://127.0.0.1:8310/", NOTO_CJK_DIR, env=env
        )
        try:
            assert listener.recv(64) == b"READY=1"
            assert get(url, "/")[1] == files["index.html"]
        finally:
            process.terminate()
            process.wait(timeout=5)


def test_a_port_in_use_is_one_line_and_exit_2(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        assert boot.main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("screen-boot: ") and err.count("\n") == 1
