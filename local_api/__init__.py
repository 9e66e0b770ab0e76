"""The local server: the template served on 127.0.0.1 with no Docker and no AWS account."""
