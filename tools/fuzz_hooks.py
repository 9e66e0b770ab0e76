"""schemathesis hooks for `make fuzz`, loaded by tools/fuzz.toml: the generators of
tools/fuzz_formats.py for the formats docs/openapi.json names."""

import schemathesis

from tools.fuzz_formats import formats

for name, strategy in formats().items():
    schemathesis.openapi.format(name, strategy)
