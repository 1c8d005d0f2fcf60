"""The web console in a real headless browser (Debian's chromium through Playwright) against a
real ``vinculo serve``: login, a reviewer's 50 decisions by keyboard only, two reviewers on one
pair, an operator watching a job to completion, an analyst reading a chart with a suppressed
cell, the two-person rule's message, a wrong token, a form without its CSRF token, and axe-core
(WCAG 2.1 A/AA) on every console page. Screenshots go to ``VINCULO_SCREENSHOT_DIR`` (or the
test's temporary folder); ``VINCULO_SCREENSHOT_DIR=docs/img`` refreshes docs/console.md's.

axe-core comes from the npm registry (``make axe``: ``.tools/axe``, git-ignored; the fixture runs
the same npm command when it is missing) and is evaluated in the page through the DevTools
protocol, so the pages keep their ``Content-Security-Policy``. Skipped loudly without
``/usr/bin/chromium`` or without axe-core, unless ``VINCULO_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from linkage_service.auth import create_token
from tests.test_console import build_bank, refs
from tests.test_console_review import build_review_bank

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
AXE_VERSION = "4.14.1"
AXE = ROOT / ".tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
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
              "operator": token("operator", "ope.luis"),
              "requester": token("reid_requester", "carla.rojas"),
              "same_approver": token("reid_approver", "carla.rojas"),
              "auditor": token("auditor", "aud")}
    service.engine.dispose()
    running = start_server(service.db_url)
    yield {"url": running.url, "tokens": tokens, **bank}


@pytest.fixture
def review_server(service: Any, make_batch: Any, start_server: Any
                  ) -> Iterator[dict[str, Any]]:
    """A real ``vinculo serve`` over a bank with 55 pending review pairs (the first five would
    merge persons published by an earlier job) and tokens for two reviewers and an operator."""
    bank = build_review_bank(service, make_batch)
    tokens = {}
    for role, user in (("reviewer", "rev.ana"), ("beto", "rev.beto"), ("operator", "ope.luis")):
        with Session(service.engine) as s:
            tokens[role], _row = create_token(s, role=role if role != "beto" else "reviewer",
                                              user_label=user)
            s.commit()
    service.engine.dispose()
    running = start_server(service.db_url)
    yield {"url": running.url, "tokens": tokens, **bank}


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's axe.min.js, installed from the npm registry into .tools/axe when missing."""
    if not AXE.exists():
        try:
            subprocess.run(["npm", "install", "--prefix", str(AXE.parents[2]),
                            f"axe-core@{AXE_VERSION}", "--no-audit", "--no-fund", "--no-save"],
                           check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            message = (f"axe-core no se pudo instalar con npm ({exc}): prueba de accesibilidad "
                       "OMITIDA")
            if os.environ.get("VINCULO_REQUIRE_BROWSER") == "1":
                pytest.fail(message)
            warnings.warn(message, stacklevel=1)
            pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any, source: str) -> list[str]:
    """WCAG 2.1 A/AA violations axe-core finds on the page (``rule: targets``)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    assert len(result["passes"]) >= 10, "axe-core did not check the page"
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]]


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
    assert len(pending) == 2 and page.locator("section.par").count() == 1
    first = page.locator(f"#par-{pending[0]}")
    first.get_by_role("button", name="Es la misma persona s", exact=True).click()
    page.wait_for_url("**/consola/revision?*hecho=linked*")
    assert f"el par {pending[0]} es la misma persona" in page.inner_text(".aviso")
    with api(server, "reviewer") as client:
        assert [p["id"] for p in client.get("/review").json()["pairs"]] == pending[1:]
    with api(server, "auditor") as client:
        entries = client.get("/audit/entries", params={"action": "review.link"}).json()
    assert [e["objects"] for e in entries] == [[f"review:{pending[0]}"]]
    assert complaints == []  # the stylesheet and pages obey the CSP

    # A form whose CSRF token was taken out is refused, and nothing is decided.
    page.locator(f"#par-{pending[1]} input[name=csrf]").evaluate("e => e.remove()")
    page.locator(f"#par-{pending[1]}").get_by_role("button", name="No es la misma persona n",
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
    # The chart beside the table marks the same suppressed cells, and has a text alternative.
    chart = table.locator("svg#grafico-personas_por_sexo")
    assert chart.get_attribute("role") == "img"
    assert "Gráfico: Personas" in (chart.locator("title").text_content() or "")
    assert chart.locator("rect.suprimida").count() == \
        table.locator("td.suprimida").count() == 2
    assert "suprimida" in (chart.text_content() or "")
    ranked = page.locator("svg#grafico-riesgo_por_departamento text").all_text_contents()
    assert ranked[0] == "víctimas de origen por 100 000 habitantes"
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "consola-estadisticas.png"))
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


def keyboard_login(browser: Any, url: str, token: str) -> tuple[Any, Any, list[str]]:
    """Log in with the keyboard only: Tab to the token field, type, Enter."""
    context = browser.new_context(locale="es-PE", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda msg: complaints.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.goto(url + "/consola/ingresar")
    for _ in range(10):
        if page.evaluate("() => document.activeElement && document.activeElement.id") == "token":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "token"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url(url + "/consola")
    return context, page, complaints


def current_pair(page: Any) -> int:
    return int(page.locator("section.par").get_attribute("id").removeprefix("par-"))


def test_reviewer_makes_fifty_decisions_by_keyboard_only(
    browser: Any, review_server: dict[str, Any], shots: Path
) -> None:
    url = review_server["url"]
    context, page, complaints = keyboard_login(browser, url, review_server["tokens"]["reviewer"])
    page.goto(url + "/consola/revision")
    page.screenshot(path=str(shots / "consola-revision.png"))
    # Focus is visible: the first Tab stop after the page loads has an outline.
    page.keyboard.press("Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    decided = []
    for i in range(50):
        pair = current_pair(page)
        page.keyboard.press("s" if i % 4 == 0 else "n")
        page.wait_for_url(f"**decidido={pair}*")
        decided.append(pair)
    assert len(set(decided)) == 50
    assert "Hoy por usted" in page.inner_text(".cuentas")
    assert page.locator(".cuentas dd").nth(3).inner_text() == "50"
    # o skips without deciding.
    skipped = current_pair(page)
    page.keyboard.press("o")
    page.wait_for_url(f"**tras={skipped}*")
    assert current_pair(page) != skipped
    with httpx.Client(base_url=url + "/api/v1", timeout=30, headers={
            "Authorization": f"Bearer {review_server['tokens']['reviewer']}"}) as client:
        counts = client.get("/review/summary").json()["counts"]
        assert counts["decided_today_by_me"] == 50
        assert counts["pending"] == 55 - 50 and counts["second_review"] == 2  # pairs 0 and 4
    page.goto(url + "/consola/revision/lista")
    page.screenshot(path=str(shots / "consola-revision-lista.png"))
    assert complaints == []  # teclas.js and the stylesheet obey the CSP
    context.close()


def test_two_reviewers_on_one_pair_the_second_is_told(
    browser: Any, review_server: dict[str, Any], shots: Path
) -> None:
    url = review_server["url"]
    ana_ctx, ana, _ = keyboard_login(browser, url, review_server["tokens"]["reviewer"])
    beto_ctx, beto, _ = keyboard_login(browser, url, review_server["tokens"]["beto"])
    ana.goto(url + "/consola/revision?min=0&max=0.8")  # pairs that merge nothing
    pair = current_pair(ana)
    beto.goto(url + f"/consola/revision?par={pair}")
    ana.keyboard.press("s")
    ana.wait_for_url(f"**decidido={pair}*")
    beto.fill(f"#motivo-{pair}", "edades distintas")
    beto.locator(f"#motivo-{pair}").press("Tab")
    beto.keyboard.press("n")
    beto.wait_for_load_state()
    assert "otro revisor ya votó" in beto.inner_text(".error")
    assert beto.input_value(f"#motivo-{pair}") == "edades distintas"
    beto.screenshot(path=str(shots / "consola-revision-conflicto.png"))
    with httpx.Client(base_url=url + "/api/v1", timeout=30, headers={
            "Authorization": f"Bearer {review_server['tokens']['beto']}"}) as client:
        read = client.get(f"/review/{pair}").json()["pair"]
        assert read["status"] == "linked" and read["votes"] == 1
        beto.keyboard.press("n")  # told, Beto still disagrees: second review
        beto.wait_for_url(f"**decidido={pair}*")
        read = client.get(f"/review/{pair}").json()["pair"]
        assert read["status"] == "second_review" and read["second_reason"] == "disagree"
    ana_ctx.close()
    beto_ctx.close()


def test_operator_watches_a_job_to_completion(
    browser: Any, review_server: dict[str, Any], service: Any, make_batch: Any, shots: Path
) -> None:
    url = review_server["url"]
    # Six new RETA records arrive (through the running service), so the job has work to do.
    service.uploader("reta").upload(make_batch("reta", refs(6, 9)))
    context, page, _ = keyboard_login(browser, url, review_server["tokens"]["operator"])
    page.goto(url + "/consola/trabajos")
    page.get_by_role("button", name="Iniciar trabajo de enlace").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/consola/trabajos/*")
    seen, deadline = set(), time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            state = page.inner_text(".estado-trabajo", timeout=5000)
        except Exception:  # the page was reloading (meta refresh)
            state = "recargando"
        seen.add(state)
        if state in ("terminado", "falló"):
            break
        if state == "en curso" and "running" not in seen:
            seen.add("running")
            page.screenshot(path=str(shots / "consola-trabajo-en-curso.png"))
        time.sleep(0.3)
    assert page.inner_text(".estado-trabajo") == "terminado", seen
    assert "100 %" in page.inner_text(".avance")
    changes = page.inner_text("table.cambios")
    assert "Pares enviados a revisión" in changes
    created = page.locator("table.cambios tr", has_text="Personas creadas").locator("td")
    assert int(created.inner_text()) >= 1  # the new records got persons
    page.screenshot(path=str(shots / "consola-trabajo.png"))
    context.close()


def test_every_console_page_has_no_wcag_a_or_aa_violation(
    browser: Any, server: dict[str, Any], axe_source: str, shots: Path
) -> None:
    url, tokens = server["url"], server["tokens"]
    pages: dict[str, list[tuple[str, str | None]]] = {
        "reviewer": [("/consola", "consola-inicio"), ("/consola/revision", None),
                     ("/consola/revision/lista", None), ("/consola/revision?cola=second", None),
                     ("/consola/estadisticas", "consola-denegado")],
        "operator": [("/consola/trabajos", "consola-trabajos"), ("/consola/trabajos/1", None)],
        "analyst": [("/consola/estadisticas", None)],
        "requester": [("/consola/reid", "consola-reid")],
        "auditor": [("/consola/auditoria", "consola-auditoria"), ("/consola/reid", None)],
    }
    found: dict[str, list[str]] = {}
    context = browser.new_context(locale="es-PE", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(url + "/consola/ingresar")
    page.screenshot(path=str(shots / "consola-ingresar.png"))
    found["/consola/ingresar"] = axe_violations(page, axe_source)
    context.close()
    for role, paths in pages.items():
        context, page, _ = open_session(browser, url, tokens[role])
        for path, shot in paths:
            page.goto(url + path)
            found[f"{role} {path}"] = axe_violations(page, axe_source)
            if shot:
                page.screenshot(path=str(shots / f"{shot}.png"))
        if role == "auditor":  # the check can fail: an image without a text alternative
            page.evaluate("() => document.querySelector('main').insertAdjacentHTML("
                          "'beforeend', '<img src=\"/consola/estilo.css\">')")
            assert any(v.startswith("image-alt") for v in axe_violations(page, axe_source))
        context.close()
    assert {name: v for name, v in found.items() if v} == {}
