"""Request bodies as Powertools validates them (and documents them in the OpenAPI schema).

Strict types: ``"1999"`` is not a year and ``true`` is not a number. Fields a client must not set
are refused, except a book's server-set fields, which are dropped so a client can PUT back
the book it got.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from books_api.books import BookFields


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: str = Field(max_length=256, description="1 to 32 characters; case-insensitive")
    password: str = Field(max_length=1024, description="8 to 128 characters; not a common password")


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    refresh_token: str = Field(min_length=1, max_length=256)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    refresh_token: str | None = Field(default=None, max_length=256, description="Also revoke this session")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024, description="8 to 128 characters; not a common password")


class BookInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str = Field(max_length=1000)
    author: str = Field(max_length=1000)
    year: int | None = Field(default=None, ge=-5000, le=9999)
    isbn: str | None = Field(default=None, max_length=32)

    @model_validator(mode="before")
    @classmethod
    def _drop_server_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                key: value for key, value in data.items() if key not in {"id", "created_at", "updated_at"}
            }
        return data

    def fields(self) -> BookFields:
        return BookFields.validated(title=self.title, author=self.author, year=self.year, isbn=self.isbn)
