"""User administration, for admins: GET /users, GET, PATCH and DELETE /users/{id}."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import http, snapstart
from books_api.config import DirectorySettings
from books_api.directory import UserDirectory
from books_api.limits import PAGE_SIZE_DEFAULT, USER_ID_PATTERN
from books_api.models import UserChange, UserPage, UserProfile
from books_api.observability import logger, metrics, tracer
from books_api.permissions import ADMIN

directory = UserDirectory.from_settings(DirectorySettings.from_env())
app = http.resolver()
snapstart.register(before=snapstart.warmer("dynamodb", "secretsmanager"), after=snapstart.refresh)
# Documented, not enforced: any other id is a user that does not exist, a 404 like any unknown one.
UserId = Annotated[str, Path(json_schema_extra={"format": "uuid", "pattern": USER_ID_PATTERN})]


@app.get("/users")
def list_users(limit: http.PageSize = PAGE_SIZE_DEFAULT, next_token: http.NextToken = None) -> UserPage:
    http.require_role(app, ADMIN)
    return UserPage.model_validate(directory.page(limit=limit, next_token=next_token))


@app.get("/users/<user_id>")
def get_user(user_id: UserId) -> UserProfile:
    http.require_role(app, ADMIN)
    return UserProfile.model_validate(directory.get(user_id))


@app.patch("/users/<user_id>")
def change_user(user_id: UserId, change: Annotated[UserChange, Body()]) -> UserProfile:
    caller = http.require_role(app, ADMIN)
    before = directory.get(user_id)
    after = directory.update(before, roles=change.roles, disabled=change.disabled)
    if after is not before:
        metrics.add_metric(name="UsersChanged", unit=MetricUnit.Count, value=1)
        logger.info(
            "User changed; their sessions ended",
            extra={
                "user_id": user_id,
                "by": caller.subject,
                "roles": list(after.roles),
                "disabled": after.disabled,
            },
        )
    return UserProfile.model_validate(after)


@app.delete("/users/<user_id>")
def delete_user(user_id: UserId) -> Response[None]:
    caller = http.require_role(app, ADMIN)
    directory.delete(directory.get(user_id))
    metrics.add_metric(name="AccountsDeleted", unit=MetricUnit.Count, value=1)
    logger.info("User deleted by an admin", extra={"user_id": user_id, "by": caller.subject})
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
