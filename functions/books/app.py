"""The book catalogue (/books, /books/{id}) and GET /health."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import http, snapstart
from books_api.books import BookRepository
from books_api.config import BooksSettings
from books_api.formats import utc_now, utc_now_precise
from books_api.limits import BOOK_ID_PATTERN, PAGE_SIZE_DEFAULT
from books_api.models import Book, BookInput, BookPage, Health
from books_api.observability import logger, metrics, tracer
from books_api.pagination import PageTokens
from books_api.permissions import ADMIN

settings = BooksSettings.from_env()
books = BookRepository(
    settings.books_table,
    PageTokens.from_secret(settings.page_token_secret_arn, max_age=settings.secret_max_age_seconds),
)
app = http.resolver()
snapstart.register(before=snapstart.warmer("dynamodb", "secretsmanager"), after=snapstart.refresh)
# Documented, not enforced: any other id is a book that does not exist, a 404 like any unknown one.
BookId = Annotated[str, Path(json_schema_extra={"format": "uuid", "pattern": BOOK_ID_PATTERN})]


@app.get("/health")
def health() -> Health:
    return Health(status="ok")


@app.get("/books")
def list_books(limit: http.PageSize = PAGE_SIZE_DEFAULT, next_token: http.NextToken = None) -> BookPage:
    http.caller(app)
    return BookPage.model_validate(books.page(limit=limit, next_token=next_token))


@app.post("/books")
def create_book(book: Annotated[BookInput, Body()]) -> Response[Book]:
    caller = http.require_role(app, ADMIN)
    created = Book.model_validate(books.create(book.fields(), now=utc_now_precise()))
    logger.info("Book created", extra={"book_id": created.id, "user_id": caller.subject})
    return http.json_response(201, created)


@app.get("/books/<book_id>")
def get_book(book_id: BookId) -> Book:
    http.caller(app)
    return Book.model_validate(books.get(book_id))


@app.put("/books/<book_id>")
def replace_book(book_id: BookId, book: Annotated[BookInput, Body()]) -> Book:
    caller = http.require_role(app, ADMIN)
    replaced = books.replace(book_id, book.fields(), now=utc_now())
    logger.info("Book replaced", extra={"book_id": book_id, "user_id": caller.subject})
    return Book.model_validate(replaced)


@app.delete("/books/<book_id>")
def delete_book(book_id: BookId) -> Response[None]:
    caller = http.require_role(app, ADMIN)
    books.delete(book_id)
    logger.info("Book deleted", extra={"book_id": book_id, "user_id": caller.subject})
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
