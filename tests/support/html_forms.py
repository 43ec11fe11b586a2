"""A small HTML form driver for tests that click through server-rendered pages with requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    """Hidden inputs and checked checkboxes, in page order."""
    checkboxes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """element id -> (name, value), every checkbox whether checked or not."""
    buttons: dict[str, tuple[str, str]] = field(default_factory=dict)
    """element id -> (name, value)."""


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, Form] = {}
        self.ids: set[str] = set()
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms[a.get("id", f"form-{len(self.forms)}")] = self._current
        elif self._current is not None and tag == "input":
            kind = a.get("type", "text")
            if kind == "hidden":
                self._current.fields.append((a["name"], a.get("value", "")))
            elif kind == "checkbox":
                self._current.checkboxes[a.get("id", a["name"])] = (a["name"], a.get("value", ""))
                if "checked" in a:
                    self._current.fields.append((a["name"], a.get("value", "")))
        elif self._current is not None and tag == "button":
            self._current.buttons[a.get("id", "")] = (a.get("name", ""), a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse_page(html: str) -> tuple[dict[str, Form], set[str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms, parser.ids


def submit(
    page: requests.Response,
    form_id: str,
    button_id: str,
    *,
    untick: tuple[str, ...] = (),
    session: requests.Session | None = None,
) -> requests.Response:
    """Press `button_id` in form `form_id` (unticking the named checkbox values first)."""
    forms, _ = parse_page(page.text)
    form = forms[form_id]
    fields = [(n, v) for n, v in form.fields if not (n == "sandbox_scope" and v in untick)]
    name, value = form.buttons[button_id]
    if name:
        fields.append((name, value))
    url = urljoin(page.url, form.action)
    poster = session or requests
    if form.method == "get":
        return poster.get(url, params=fields, allow_redirects=False, timeout=10)
    return poster.post(url, data=fields, allow_redirects=False, timeout=10)


def press(
    page: requests.Response,
    button_id: str,
    *,
    untick: tuple[str, ...] = (),
    session: requests.Session | None = None,
) -> requests.Response:
    """Press the button with id `button_id`, in whichever form holds it."""
    forms, _ = parse_page(page.text)
    for form_id, form in forms.items():
        if button_id in form.buttons:
            return submit(page, form_id, button_id, untick=untick, session=session)
    raise AssertionError(f"{page.url}: no button #{button_id} (forms: {sorted(forms)})")
