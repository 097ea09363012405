"""The web app over HTTPS in Debian's Chromium, trusting the box because its own
authority was added to the browser's certificate store, as a person does on a device.

Chromium on Linux reads the certificates a user trusts from the NSS database in
``$HOME/.pki/nssdb``; each browser here gets a home of its own with one made by
``certutil``. Nothing tells the browser to ignore certificate errors: a browser whose
store lacks the authority is refused the page, which the last test shows.
"""

import os
import shutil
import ssl
import subprocess
import types

import pytest
from boxes import Box
from browser import CHROMIUM, CHROMIUM_ARGS, Visitor, expect, wait_until
from conftest import PASSWORD
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from test_ui_notify import NOTES, RECORD_NOTIFICATIONS, open_profile

from appliance import certs

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which("certutil") is None,
        reason="certutil is missing (apt-get install libnss3-tools) so no browser "
        "certificate store can be made to trust the box",
    ),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Chromium is not installed at " + CHROMIUM
    ),
]


@pytest.fixture
def box(tmp_path):
    """A box serving HTTPS with the authority it makes on first start."""
    box = Box(tmp_path / "box", "--tls=auto", "--mdns=false", "--logging=warning")
    box.scheme = "https"
    box.start()
    yield box
    box.close()


def authority_of(box):
    return certs.CertificateFiles(os.path.join(box.data_dir, "tls")).ca_cert


def browser_home(folder, trusted_authority=None):
    """A home folder whose NSS database trusts ``trusted_authority`` (a PEM file) to
    identify TLS servers, or trusts nothing of its own when it is None."""
    nssdb = os.path.join(folder, ".pki", "nssdb")
    os.makedirs(nssdb)
    database = f"sql:{nssdb}"
    certutil = ["certutil", "-d", database]
    subprocess.run(["certutil", "-N", "-d", database, "--empty-password"], check=True)
    if trusted_authority is not None:
        subprocess.run(
            [
                *certutil,
                "-A",
                "-n",
                "chatbox test CA",
                "-t",
                "C,,",
                "-i",
                trusted_authority,
            ],
            check=True,
        )
    listed = subprocess.run(
        [*certutil, "-L"], check=True, capture_output=True, text=True
    ).stdout
    assert ("chatbox test CA" in listed) == (trusted_authority is not None), listed
    return str(folder)


def chromium_with_home(playwright, home):
    """Debian's Chromium with the repo's usual switches and ``home`` as $HOME."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        env=dict(os.environ, HOME=home),
    )


def localhost(box):
    """The box as a browser on the box itself names it: by name, not by address."""
    return types.SimpleNamespace(url=f"https://localhost:{box.port}")


def check_clean(visitor):
    foreign, errors = visitor.foreign_requests(), visitor.errors
    visitor.close()
    assert foreign == [], "the page asked another host for something"
    assert errors == [], "the page logged errors"


def test_a_browser_trusting_the_boxs_authority_notifies_and_opens_offline(box, tmp_path):
    home = browser_home(tmp_path / "home", trusted_authority=authority_of(box))
    site = localhost(box)
    with sync_playwright() as playwright:
        browser = chromium_with_home(playwright, home)
        try:
            gil, hal = Visitor(browser, site), Visitor(browser, site)
            gil.context.add_init_script(RECORD_NOTIFICATIONS)
            gil.context.grant_permissions(["notifications"], origin=site.url)

            # The page loads over HTTPS, checked against the certificate store alone.
            response = gil.page.goto(site.url + "/signup")
            assert response.ok and response.url.startswith("https://localhost:")
            assert response.security_details()["issuer"].startswith("chatbox local CA on ")
            assert gil.page.evaluate("window.isSecureContext")
            gil.fill_auth("gil", PASSWORD, "Sign up")
            path = gil.start_chat()

            # gil turns notifications on and looks at his profile, not the chat.
            settings = open_profile(gil)
            settings.get_by_role("button", name="Enable notifications").click()
            expect(settings.get_by_test_id("notification-state")).to_have_text(
                "Status: On in this browser"
            )

            # hal follows gil's link, signs up, and mentions him.
            hal.goto(path)
            expect(hal.page.get_by_text("You were invited to a chat")).to_be_visible()
            hal.fill_auth("hal", PASSWORD, "Sign up")
            composer = hal.page.locator("#composer-text")
            expect(composer).to_be_enabled()
            composer.click()
            hal.page.keyboard.type("@gi")
            listbox = hal.page.get_by_role("listbox", name="People to mention")
            expect(listbox.get_by_role("option")).to_have_text(["gil"])
            hal.page.keyboard.press("Enter")
            hal.page.keyboard.type("the key is under the mat")
            hal.page.keyboard.press("Enter")
            expect(hal.bubbles("the key is under the mat")).to_have_attribute(
                "data-status", "sent"
            )
            # Both sockets went over WSS to the same trusted origin.
            for visitor in (gil, hal):
                sockets = [u for u in visitor.requests if u.startswith("wss://")]
                assert sockets and all(
                    u.startswith(f"wss://localhost:{box.port}/") for u in sockets
                )

            wait_until(gil.page, "window.__notes.length === 1")
            # An unnamed chat of two is called after the other person.
            assert gil.page.evaluate(NOTES) == [
                {
                    "title": "hal",
                    "body": "@gil the key is under the mat",
                    "tag": f"chat:{path.split('/')[2]}",
                }
            ]
            gil.shot("https-notified")

            # The service worker registers over HTTPS and takes the page.
            wait_until(
                gil.page,
                "navigator.serviceWorker.ready"
                ".then((r) => !!r.active && r.scope === location.origin + '/')",
            )
            gil.page.reload()
            wait_until(gil.page, "!!navigator.serviceWorker.controller")

            # Until the box goes down, neither page logged an error.
            for visitor in (gil, hal):
                assert visitor.errors == [], "the page logged errors"
            # The box goes down: the installed app opens and says so, where a browser
            # without the worker would show its own error page.
            box.close()
            gil.page.reload()
            expect(
                gil.page.get_by_role("heading", name="The chat box can't be reached")
            ).to_be_visible()
            expect(gil.page.get_by_role("button", name="Try again")).to_be_visible()
            assert gil.page.url.startswith("https://localhost:")
            gil.shot("https-offline-app")
            for visitor in (gil, hal):
                # With the box down, a page may say so, and the browser may log the
                # connections it could not make; nothing else.
                assert all(
                    "cannot be reached" in error or "net::ERR_" in error
                    for error in visitor.errors
                ), visitor.errors
                visitor.errors.clear()
                check_clean(visitor)
        finally:
            browser.close()


def test_the_same_browser_without_the_authority_is_refused_the_page(box, tmp_path):
    home = browser_home(tmp_path / "home")
    site = localhost(box)
    with sync_playwright() as playwright:
        browser = chromium_with_home(playwright, home)
        try:
            page = browser.new_page()
            with pytest.raises(PlaywrightError, match=r"net::ERR_CERT_AUTHORITY_INVALID"):
                page.goto(site.url + "/")
            # The box was up and serving all along: it is the trust that is missing.
            context = ssl.create_default_context(cafile=authority_of(box))
            assert box.call("GET", "/healthz", context=context)[0] == 200
        finally:
            browser.close()
