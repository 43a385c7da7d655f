"""Contacts messages: one or more contact cards (reference/cloudapi.md §6, M-contacts-send).

Only ``name.formatted_name`` is required; every other field is optional and left out of the
request when it is None or an empty list.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, ClassVar

from wahost.outbound.base import (
    Outbound,
    Part,
    check_instance,
    check_items,
    check_optional_text,
    check_text,
    compact,
)

__all__ = ["Address", "Contact", "Contacts", "Email", "Name", "Org", "Phone", "Url"]

CONTACTS_MAX = 257
"""Meta: "Each message can include information for up to 257 contacts" (M-contacts-send)."""

_BIRTHDAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class Name(Part, frozen=True, kw_only=True):
    """A contact's name. ``formatted_name`` is shown next to the card and is required."""

    formatted_name: str
    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    suffix: str | None = None
    prefix: str | None = None

    def _check(self, path: str) -> None:
        check_text(f"{path}.formatted_name", self.formatted_name)
        for field in ("first_name", "last_name", "middle_name", "suffix", "prefix"):
            check_optional_text(f"{path}.{field}", getattr(self, field))

    def content(self) -> dict[str, Any]:
        return compact(
            formatted_name=self.formatted_name,
            first_name=self.first_name,
            last_name=self.last_name,
            middle_name=self.middle_name,
            suffix=self.suffix,
            prefix=self.prefix,
        )


class Phone(Part, frozen=True, kw_only=True):
    """A phone number. With ``wa_id`` the card shows Message and Save buttons; without it, an
    Invite to WhatsApp button."""

    phone: str | None = None
    type: str | None = None
    """Free text such as ``"Mobile"``, ``"Home"``, ``"Work"``."""
    wa_id: str | None = None

    def _check(self, path: str) -> None:
        for field in ("phone", "type", "wa_id"):
            check_optional_text(f"{path}.{field}", getattr(self, field))

    def content(self) -> dict[str, Any]:
        return compact(phone=self.phone, type=self.type, wa_id=self.wa_id)


class Email(Part, frozen=True, kw_only=True):
    """An email address."""

    email: str | None = None
    type: str | None = None
    """Free text such as ``"Work"``."""

    def _check(self, path: str) -> None:
        check_optional_text(f"{path}.email", self.email)
        check_optional_text(f"{path}.type", self.type)

    def content(self) -> dict[str, Any]:
        return compact(email=self.email, type=self.type)


class Url(Part, frozen=True, kw_only=True):
    """A website."""

    url: str | None = None
    type: str | None = None
    """Free text such as ``"Company"``."""

    def _check(self, path: str) -> None:
        check_optional_text(f"{path}.url", self.url)
        check_optional_text(f"{path}.type", self.type)

    def content(self) -> dict[str, Any]:
        return compact(url=self.url, type=self.type)


class Address(Part, frozen=True, kw_only=True):
    """A postal address; ``country_code`` is the ISO two-letter code."""

    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    country_code: str | None = None
    type: str | None = None
    """Free text such as ``"Home"``."""

    def _check(self, path: str) -> None:
        for field in ("street", "city", "state", "zip", "country", "country_code", "type"):
            check_optional_text(f"{path}.{field}", getattr(self, field))

    def content(self) -> dict[str, Any]:
        return compact(
            street=self.street,
            city=self.city,
            state=self.state,
            zip=self.zip,
            country=self.country,
            country_code=self.country_code,
            type=self.type,
        )


class Org(Part, frozen=True, kw_only=True):
    """Where the contact works."""

    company: str | None = None
    department: str | None = None
    title: str | None = None

    def _check(self, path: str) -> None:
        for field in ("company", "department", "title"):
            check_optional_text(f"{path}.{field}", getattr(self, field))

    def content(self) -> dict[str, Any]:
        return compact(company=self.company, department=self.department, title=self.title)


class Contact(Part, frozen=True, kw_only=True):
    """One contact card."""

    name: Name
    phones: list[Phone] = []
    emails: list[Email] = []
    urls: list[Url] = []
    addresses: list[Address] = []
    org: Org | None = None
    birthday: str | None = None
    """``YYYY-MM-DD``."""

    def _check(self, path: str) -> None:
        check_instance(f"{path}.name", self.name, Name)
        self.name._check(f"{path}.name")
        lists = (("phones", Phone), ("emails", Email), ("urls", Url), ("addresses", Address))
        for field, kind in lists:
            items = check_items(f"{path}.{field}", getattr(self, field), kind, 0, None, "item")
            for index, item in enumerate(items):
                item._check(f"{path}.{field}[{index}]")
        if self.org is not None:
            check_instance(f"{path}.org", self.org, Org)
            self.org._check(f"{path}.org")
        if self.birthday is not None:
            check_birthday(f"{path}.birthday", self.birthday)

    def content(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name.content()}
        for field in ("phones", "emails", "urls", "addresses"):
            items = getattr(self, field)
            if items:
                body[field] = [item.content() for item in items]
        if self.org is not None:
            body["org"] = self.org.content()
        if self.birthday is not None:
            body["birthday"] = self.birthday
        return body


def check_birthday(path: str, value: object) -> None:
    """A real calendar date written ``YYYY-MM-DD``."""
    check_text(path, value)
    assert isinstance(value, str)
    try:
        valid = bool(_BIRTHDAY.fullmatch(value)) and date.fromisoformat(value) is not None
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"{path}: must be a date written YYYY-MM-DD (got {value!r})")


class Contacts(Outbound, frozen=True):
    """A message of 1 to 257 contact cards. Its :meth:`content` is a list, not an object."""

    type: ClassVar[str] = "contacts"

    contacts: list[Contact]

    def _check(self, path: str) -> None:
        cards = check_items(f"{path}.contacts", self.contacts, Contact, 1, CONTACTS_MAX, "contact")
        for index, contact in enumerate(cards):
            contact._check(f"{path}.contacts[{index}]")

    def content(self) -> list[dict[str, Any]]:
        return [contact.content() for contact in self.contacts]
