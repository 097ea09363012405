"""The web app in a second language: a browser whose language is French gets the whole
chat screen in French (sign-in, the chat list, a conversation with a reply and a
reaction, the dates), and the Profile switches it back to English for good.

Drives Debian's Chromium with Playwright against a real chatbox process. The screenshot
goes to test-artifacts/i18n-fr-chat.png.
"""

import re

import pytest
from browser import api_call, expect
from conftest import PASSWORD
from test_ui_admin import sign_up_by_api

pytestmark = pytest.mark.browser


def action(visitor, text, name):
    """A message action, shown once the message is hovered (the first that says it: a
    reply quotes its original)."""
    bubble = visitor.bubbles(text).first
    bubble.hover()
    return bubble.get_by_role("button", name=name, exact=True)


def test_a_french_browser_gets_the_whole_chat_screen_in_french_and_can_switch_back(
    people, server
):
    bob_token = sign_up_by_api(server, "bruno")
    sign_up_by_api(server, "claire")
    api_call(server, "POST", "/api/chats/", {"name": "cuisine"}, token=bob_token)
    api_call(
        server,
        "POST",
        "/api/chats/cuisine/messages/",
        {"message": "Qui apporte le dessert ?"},
        token=bob_token,
    )

    claire = people(locale="fr-FR")
    page = claire.page
    claire.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("tab", name="S’inscrire")).to_be_visible()
    claire.fill_auth("claire", PASSWORD, "Se connecter")
    expect(page.get_by_role("button", name="Commencer à discuter").first).to_be_visible()

    claire.goto("/chats/cuisine/")
    expect(page.locator("#composer-text")).to_be_enabled()
    expect(page.locator("#composer-text")).to_have_attribute(
        "placeholder", "Écrivez un message"
    )
    expect(page.get_by_role("button", name="Joindre des fichiers")).to_be_visible()
    expect(page.get_by_role("link", name="Personnes")).to_be_visible()
    expect(page.get_by_role("link", name="Profil")).to_be_visible()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    expect(page.get_by_role("combobox", name="Notifications")).to_have_value("all")
    expect(
        page.get_by_text("Partagez l’adresse de la page pour inviter de nouveaux amis")
    ).to_be_visible()
    expect(page.locator(".head .sub")).to_contain_text("2 membres")
    # The day is named by the browser's Intl in the chosen language.
    expect(page.get_by_role("separator").first).to_have_text("Aujourd’hui")

    # A reply, in French from the button to the quote.
    action(claire, "Qui apporte le dessert ?", "Répondre").click()
    expect(page.get_by_text("Réponse à bruno")).to_be_visible()
    page.keyboard.type("Moi, une tarte aux pommes")
    page.keyboard.press("Enter")
    reply = claire.bubbles("Moi, une tarte aux pommes")
    expect(reply.get_by_role("button", name="Aller au message de bruno")).to_contain_text(
        "Qui apporte le dessert ?"
    )
    expect(reply).to_have_attribute("data-status", "sent")

    # A reaction: the picker, then the chip that says who, counted the French way.
    action(claire, "Qui apporte le dessert ?", "Réagir").click()
    page.get_by_role("dialog", name="Réactions").get_by_role(
        "button", name="Réagir avec 👍"
    ).click()
    expect(
        claire.bubbles("Qui apporte le dessert ?").first.get_by_role(
            "button", name="👍 1 réaction, de claire"
        )
    ).to_be_visible()
    expect(page.get_by_role("button", name="Afficher les membres")).to_be_visible()
    page.mouse.move(0, 0)
    claire.shot("i18n-fr-chat")

    # Back to English from the Profile, and it stays English after a reload.
    page.get_by_role("link", name="Profil").click()
    page.wait_for_url(re.compile(r"/profile$"))
    language = page.get_by_role("combobox", name="Langue")
    expect(language).to_have_value("fr")
    expect(language.locator("option")).to_have_text(["English", "Français"])
    language.select_option("en")
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("combobox", name="Language")).to_have_value("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    claire.goto("/chats/cuisine/")
    expect(page.locator("#composer-text")).to_have_attribute(
        "placeholder", "Type a message"
    )
    expect(page.get_by_role("button", name="👍 1 reaction, by claire")).to_be_visible()
