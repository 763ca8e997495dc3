"""Reading the web pages in tests: fields, their errors and the words a person sees."""

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from django.urls import reverse

from tests.login import sent_code
from users.sms import SmsMessage

VOID = {"input", "meta", "link", "br", "img", "hr", "source", "wbr", "area", "base", "col"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    parent: "Element | None"
    text: list[str] = field(default_factory=list)

    def within(self, ancestor: "Element") -> bool:
        node = self.parent
        while node is not None:
            if node is ancestor:
                return True
            node = node.parent
        return False


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []
        self.words: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self.open[-1] if self.open else None
        element = Element(tag, {name: value or "" for name, value in attrs}, parent)
        self.elements.append(element)
        if tag in {"script", "style", "title"}:
            self.skipping += 1
        if tag not in VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "title"}:
            self.skipping -= 1
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text.append(data)
        if not self.skipping:
            self.words.append(data)


def _words(element: Element) -> str:
    return " ".join("".join(element.text).split())


class Page:
    """One HTML response, parsed."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.html = response.content.decode()
        parser = _Parser()
        parser.feed(self.html)
        self.elements = parser.elements
        self.text = re.sub(r"\s+", " ", " ".join(parser.words)).strip()

    def by_id(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == element_id), None)

    def text_of(self, element_id: str) -> str:
        element = self.by_id(element_id)
        assert element is not None, f"no #{element_id} on the page"
        return _words(element)

    def attrs_of(self, element_id: str) -> dict[str, str]:
        element = self.by_id(element_id)
        assert element is not None, f"no #{element_id} on the page"
        return element.attrs

    def value(self, element_id: str) -> str | None:
        element = self.by_id(element_id)
        return None if element is None else element.attrs.get("value")

    def label(self, element_id: str) -> str | None:
        label = next(
            (e for e in self.elements if e.tag == "label" and e.attrs.get("for") == element_id),
            None,
        )
        return None if label is None else " ".join("".join(label.text).split())

    def field_errors(self, name: str) -> list[str]:
        """The errors shown next to a form field (and linked to it for assistive technology)."""
        errors = self.by_id(f"id_{name}_error")
        if errors is None:
            return []
        field_input = self.by_id(f"id_{name}")
        assert field_input is not None
        assert f"id_{name}_error" in field_input.attrs.get("aria-describedby", "").split()
        assert field_input.attrs.get("aria-invalid") == "true"
        items = [e for e in self.elements if e.tag == "li" and e.within(errors)]
        return [" ".join("".join(item.text).split()) for item in items]

    def form_errors(self) -> list[str]:
        """Errors of no one field, shown above the form."""
        boxes = [e for e in self.elements if "form-errors" in e.attrs.get("class", "").split()]
        return [" ".join("".join(box.text).split()) for box in boxes]

    def table(self, caption: str) -> list[list[str]]:
        """The body rows of the table with this caption, as the cells' texts."""
        captions = [e for e in self.elements if e.tag == "caption" and _words(e) == caption]
        if not captions:
            return []
        table = captions[0].parent
        assert table is not None
        rows = [e for e in self.elements if e.tag == "tr" and e.within(table)]
        return [
            [_words(cell) for cell in self.elements if cell.tag == "td" and cell.parent is row]
            for row in rows
            if row.parent is not None and row.parent.tag == "tbody"
        ]

    def buttons(self) -> list[str]:
        return [" ".join("".join(e.text).split()) for e in self.elements if e.tag == "button"]


def location(response: Any) -> tuple[int, str]:
    """A redirect's status and target."""
    return response.status_code, response.headers.get("Location", "")


def send_code(client: Any, phone: str, **fields: str) -> Any:
    """Step 1 of the sign-in page."""
    return client.post(reverse("web:home"), {"phone": phone, **fields})


def sign_in(client: Any, code: str, **fields: str) -> Any:
    """Step 2 of the sign-in page."""
    return client.post(reverse("web:sign-in"), {"code": code, **fields})


def web_log_in(client: Any, outbox: list[SmsMessage], phone: str, **fields: str) -> Any:
    """Both steps, with the code from the SMS; returns the answer to step 2."""
    sent = send_code(client, phone, **fields)
    assert sent.status_code == 302, Page(sent).text
    response = sign_in(client, sent_code(outbox, phone), **fields)
    assert response.status_code == 302, Page(response).text
    return response
