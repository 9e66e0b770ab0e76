"""The book catalogue (/books, /books/{id}) and GET /health."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import http
from books_api.books import BookRepository
from books_api.config import BooksSettings
from books_api.formats import utc_now
from books_api.models import BookInput
from books_api.observability import logger, metrics, tracer
from books_api.pagination import PageTokens
from books_api.users import ADMIN

settings = BooksSettings.from_env()
books = BookRepository(
    settings.books_table,
    PageTokens.from_secret(settings.page_token_secret_arn, max_age=settings.secret_max_age_seconds),
)
app = http.resolver()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/books")
def list_books(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=512)] = None,
) -> dict:
    http.caller(app)
    return books.page(limit=limit, next_token=next_token).public()


@app.post("/books")
def create_book(book: Annotated[BookInput, Body()]) -> Response[dict]:
    caller = http.require_role(app, ADMIN)
    created = books.create(book.fields(), now=utc_now())
    logger.info("Book created", extra={"book_id": created.id, "user_id": caller.subject})
    return http.json_response(201, created.public())


@app.get("/books/<book_id>")
def get_book(book_id: str) -> dict:
    http.caller(app)
    return books.get(book_id).public()


@app.put("/books/<book_id>")
def replace_book(book_id: str, book: Annotated[BookInput, Body()]) -> dict:
    caller = http.require_role(app, ADMIN)
    replaced = books.replace(book_id, book.fields(), now=utc_now())
    logger.info("Book replaced", extra={"book_id": book_id, "user_id": caller.subject})
    return replaced.public()


@app.delete("/books/<book_id>")
def delete_book(book_id: str) -> Response[None]:
    caller = http.require_role(app, ADMIN)
    books.delete(book_id)
    logger.info("Book deleted", extra={"book_id": book_id, "user_id": caller.subject})
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
