"""The local server: the template served on 127.0.0.1 with no Docker and no AWS account."""

# The stack the local server (and sam local, through events/env.json) creates in moto.
STACK_NAME = "books-api-local"
REGION = "us-east-1"
