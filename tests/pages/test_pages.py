"""The pages in a real browser against a real hub: sign-in, the map, and an owner's onboarding."""

from __future__ import annotations

import re

import aiohttp
from playwright.async_api import Page, expect

from hub.access import Role
from tests.pages.conftest import BrowserThread
from tests.web.conftest import PASSWORD, USERS, Site


async def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    await page.locator("#name").fill(name)
    await page.locator("#password").fill(password)
    await page.get_by_role("button", name="Masuk").click()


async def test_a_browser_signs_in_and_comes_back_while_other_clients_get_401(
    site: Site, browser: BrowserThread
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(site.url("/owner"), allow_redirects=False) as answer:
            assert answer.status == 401
            assert "sign in" in (await answer.json())["error"]
        html = {"Accept": "text/html"}
        async with http.get(site.url("/owner"), headers=html, allow_redirects=False) as answer:
            assert answer.status == 303
            assert answer.headers["Location"] == "/login?next=/owner"
        async with http.get(site.url("/login")) as answer:
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
    owner = USERS[Role.OWNER]

    async def steps(page: Page) -> None:
        await page.goto(site.url("/owner"))
        await expect(page).to_have_url(re.compile(r"/login\?next=%2Fowner$|/login\?next=/owner$"))
        await sign_in(page, owner, "not-the-password-at-all")
        await expect(page.get_by_role("alert")).to_have_text("Nama atau kata sandi salah.")
        await expect(page.locator("#password")).to_have_value("")  # never kept nor echoed
        await sign_in(page, owner)
        await expect(page).to_have_url(site.url("/owner"))
        await expect(page.locator("#who")).to_have_text(f"{owner} · sunrise")
        # an owner's map holds its own cameras only
        await page.get_by_role("link", name="Peta").click()
        await expect(page.locator("#cameras li")).to_have_count(1)
        await expect(page.locator("#cameras li")).to_have_attribute("data-camera", "mall-lobi")
        await expect(page.locator("svg .marker[data-camera]")).to_have_count(0)  # no position
        assert PASSWORD not in await page.content()
        # a viewer of the command center may not open the owner console: a page says so
        await page.get_by_role("button", name="Keluar").click()
        await expect(page).to_have_url(site.url("/login"))
        await page.goto(site.url("/login?next=//elsewhere.example/"))
        await sign_in(page, USERS[Role.VIEWER])
        await expect(page).to_have_url(site.url("/map"))  # not elsewhere: / sends it on
        await page.goto(site.url("/owner"))
        await expect(page.get_by_role("heading", name="Tidak diizinkan")).to_be_visible()

    await browser.run(steps)


async def test_the_map_colours_each_camera_by_health_and_says_why_a_picture_is_refused(
    watched_site: Site, browser: BrowserThread
) -> None:
    operator = USERS[Role.OPERATOR]

    async def steps(page: Page) -> None:
        await page.goto(watched_site.url("/map"))
        await sign_in(page, operator)
        await expect(page).to_have_url(watched_site.url("/map"))
        markers = page.locator("svg .marker[data-camera]")
        await expect(markers).to_have_count(3)
        online = page.locator('svg .marker[data-camera="alun-alun"]')
        offline = page.locator('svg .marker[data-camera="mall-lobi"]')
        # the sim camera renders its scene first; a closed port is offline at the first try
        await expect(online).to_have_class(re.compile(r"\bonline\b"), timeout=30_000)
        await expect(offline).to_have_class(re.compile(r"\boffline\b"), timeout=30_000)
        await expect(online).to_have_attribute("aria-label", re.compile("Daring"))
        listed = page.locator('#cameras li[data-camera="mall-lobi"] .health')
        await expect(listed).to_have_text("Luring")
        colour = await listed.evaluate("node => getComputedStyle(node).backgroundColor")
        assert colour == "rgb(192, 38, 45)"  # --offline
        # the private mall shares its registry only: the map says so instead of a picture
        await offline.focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#detail-owner")).to_have_text("sunrise")
        await expect(page.locator("#detail-sharing")).to_have_text("Registri saja")
        await page.get_by_role("button", name="Tampilkan cuplikan").click()
        await expect(page.locator("#refusal")).not_to_be_empty()
        await expect(page.locator("#picture img")).to_have_count(0)

    await browser.run(steps)


async def test_an_invited_owner_adds_a_site_and_a_camera_and_sees_it_on_the_map(
    site: Site, browser: BrowserThread
) -> None:
    admin = await site.signed_in(Role.ADMIN)
    invitation = {
        "name": "plaza-it",
        "owner": {"id": "plaza", "name": "Plaza Majapahit", "kind": "private"},
    }
    async with admin.post(site.url("/api/invites"), json=invitation) as answer:
        assert answer.status == 201, await answer.text()
        link = (await answer.json())["url"]
    new_password = "Plaza-Kata-Sandi-2026"

    async def steps(page: Page) -> None:
        await page.goto(link)
        await expect(page.locator("#whose")).to_have_text(
            "Anda diundang sebagai plaza-it untuk Plaza Majapahit."
        )
        await page.locator("#password").fill(new_password)
        await page.locator("#repeat").fill(new_password)
        await page.get_by_role("button", name="Terima undangan").click()
        await expect(page).to_have_url(site.url("/owner"))
        await expect(page.locator("#acting")).to_be_hidden()  # an owner acts for itself only
        await page.get_by_label("Nama lokasi").fill("Plaza Majapahit")
        await page.locator("#site-lat").fill("-7.4690")
        await page.locator("#site-lon").fill("112.4345")
        await page.get_by_role("button", name="Tambah lokasi").click()
        await expect(page.locator("#sites tr[data-site]")).to_have_count(1)
        await page.get_by_label("Nama kamera").fill("Pintu Utara")
        await page.locator("#cam-site").select_option(label="Plaza Majapahit")
        await page.locator("#cam-url").fill("rtsp://127.0.0.1:9/utara")
        await page.locator("#cam-password").fill("kamera-rahasia-9")
        await page.get_by_role("button", name="Tambah kamera").click()
        await expect(page.locator("#cameras tr[data-camera]")).to_have_count(1)
        await expect(page.locator("#cam-password")).to_have_value("")
        # sharing: snapshots for all of the owner's cameras, until revoked
        await page.locator("#share-level").select_option("snapshots")
        await page.locator("#share-signed").fill("Manajer Plaza")
        await page.locator("#share-noend").check()
        await page.get_by_role("button", name="Simpan perjanjian").click()
        await expect(page.locator("#levels tr")).to_have_attribute("data-level", "snapshots")
        await page.get_by_role("link", name="Peta").click()
        marker = page.locator("svg .marker[data-camera]")
        await expect(marker).to_have_count(1)
        await expect(marker).to_have_attribute("aria-label", re.compile("^Pintu Utara: "))
        await expect(marker).to_have_class(re.compile(r"\bsnapshots\b"))
        assert "kamera-rahasia-9" not in await page.content()

    await browser.run(steps)
    # the command center sees the owner's new camera on its map too
    operator = await site.signed_in(Role.OPERATOR)
    async with operator.get(site.url("/api/cameras")) as answer:
        names = {camera["name"] for camera in (await answer.json())["cameras"]}
    assert "Pintu Utara" in names
