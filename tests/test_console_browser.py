"""The web console in a real headless browser (Debian's chromium through Playwright) against a
real ``vinculo serve``: login, review decision checked through the JSON API, a suppressed
statistics cell, the two-person rule's message, a wrong token, and a form without its CSRF
token. Screenshots go to ``VINCULO_SCREENSHOT_DIR`` (or the test's temporary folder).

Skipped loudly without ``/usr/bin/chromium``, unless ``VINCULO_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from linkage_service.auth import create_token
from tests.test_console import build_bank

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} no existe: pruebas de la consola en navegador OMITIDAS"
        if os.environ.get("VINCULO_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (VINCULO_REQUIRE_BROWSER=1)")
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(service: Any, make_batch: Any, start_server: Any) -> Iterator[dict[str, Any]]:
    """A real ``vinculo serve`` over a bank with two review pairs and 15 persons."""
    bank = build_bank(service, make_batch)

    def token(role: str, user: str) -> str:
        with Session(service.engine) as s:
            clear, _row = create_token(s, role=role, user_label=user)
            s.commit()
        return clear

    tokens = {"reviewer": token("reviewer", "rev.ana"), "analyst": token("analyst", "ana.lista"),
              "requester": token("reid_requester", "carla.rojas"),
              "same_approver": token("reid_approver", "carla.rojas"),
              "auditor": token("auditor", "aud")}
    service.engine.dispose()
    running = start_server(service.db_url)
    yield {"url": running.url, "tokens": tokens, **bank}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VINCULO_SCREENSHOT_DIR") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_session(browser: Any, url: str, token: str) -> tuple[Any, Any, list[str]]:
    """A fresh browser context logged in with ``token``; CSP complaints are collected."""
    context = browser.new_context(locale="es-PE", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda msg: complaints.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.goto(url + "/consola/ingresar")
    page.fill("#token", token)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url(url + "/consola")
    return context, page, complaints


def api(server: dict[str, Any], role: str) -> httpx.Client:
    return httpx.Client(base_url=server["url"] + "/api/v1", timeout=30,
                        headers={"Authorization": f"Bearer {server['tokens'][role]}"})


def test_wrong_token_shows_an_error(browser: Any, server: dict[str, Any]) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server["url"] + "/consola/ingresar")
    page.fill("#token", "vnc_0123456789ab_" + "B" * 43)
    page.get_by_role("button", name="Ingresar").click()
    assert page.locator(".error").inner_text().startswith("token inválido o revocado")
    page.goto(server["url"] + "/consola/revision")
    assert "Sesión requerida" in page.inner_text("h1")
    context.close()


def test_reviewer_decides_a_pair_in_the_browser(
    browser: Any, server: dict[str, Any], shots: Path
) -> None:
    context, page, complaints = open_session(browser, server["url"],
                                             server["tokens"]["reviewer"])
    assert "revisión de pares" in page.inner_text(".quien")
    page.locator("nav.menu").get_by_role("link", name="Revisión").click()
    answer = page.goto(server["url"] + "/consola/revision")
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-frame-options"] == "DENY"
    with api(server, "reviewer") as client:
        pending = [p["id"] for p in client.get("/review").json()["pairs"]]
    assert len(pending) == 2 and page.locator("section.par").count() == 2
    page.screenshot(path=str(shots / "revision.png"), full_page=True)
    first = page.locator(f"#par-{pending[0]}")
    first.get_by_role("button", name="Es la misma persona", exact=True).click()
    page.wait_for_url("**/consola/revision?hecho=link*")
    assert f"el par {pending[0]} es la misma persona" in page.inner_text(".aviso")
    with api(server, "reviewer") as client:
        assert [p["id"] for p in client.get("/review").json()["pairs"]] == pending[1:]
    with api(server, "auditor") as client:
        entries = client.get("/audit/entries", params={"action": "review.link"}).json()
    assert [e["objects"] for e in entries] == [[f"review:{pending[0]}"]]
    assert complaints == []  # the stylesheet and pages obey the CSP

    # A form whose CSRF token was taken out is refused, and nothing is decided.
    page.locator(f"#par-{pending[1]} input[name=csrf]").evaluate("e => e.remove()")
    page.locator(f"#par-{pending[1]}").get_by_role("button", name="No es la misma persona",
                                                   exact=True).click()
    assert "código de seguridad" in page.inner_text(".error")
    with api(server, "reviewer") as client:
        assert [p["id"] for p in client.get("/review").json()["pairs"]] == pending[1:]
    context.close()


def test_analyst_sees_a_suppressed_cell(
    browser: Any, server: dict[str, Any], shots: Path
) -> None:
    context, page, _ = open_session(browser, server["url"], server["tokens"]["analyst"])
    page.locator("nav.menu").get_by_role("link", name="Estadísticas").click()
    page.wait_for_url("**/consola/estadisticas")
    table = page.locator("#personas_por_sexo")
    assert table.locator("td.suprimida").first.inner_text() == "—"
    assert "celda suprimida" in page.inner_text(".leyenda")
    assert "15" in table.locator("tr", has_text="Total").inner_text()
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "estadisticas.png"))
    context.close()


def test_requester_cannot_approve_their_own_request(
    browser: Any, server: dict[str, Any], shots: Path
) -> None:
    context, page, _ = open_session(browser, server["url"], server["tokens"]["requester"])
    page.goto(server["url"] + "/consola/reid")
    page.fill("#persons", server["pseudonyms"][0])
    page.fill("#legal_basis", "Ley 28950, art. 7")
    page.fill("#purpose", "Carpeta fiscal 123-2025")
    page.get_by_role("button", name="Enviar solicitud").click()
    page.wait_for_url("**/consola/reid?hecho=creada*")
    request_id = page.url.rsplit("=", 1)[1]
    assert request_id in page.inner_text(".aviso")
    context.close()

    context, page, _ = open_session(browser, server["url"], server["tokens"]["same_approver"])
    page.goto(server["url"] + "/consola/reid")
    card = page.locator(f"article#{request_id}")
    assert "Esta solicitud es suya" in card.inner_text()
    card.get_by_role("button", name="Aprobar").click()
    message = page.locator(".error").inner_text()
    assert "no puede aprobar ni denegar su propia solicitud" in message
    page.screenshot(path=str(shots / "reid-dos-personas.png"))
    with api(server, "auditor") as client:
        assert client.get(f"/reid/requests/{request_id}").json()["status"] == "pending"
    context.close()
