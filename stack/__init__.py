"""The stack template.yaml describes, outside AWS: the template read as data (``stack.template``)
and the AWS Parameters and Secrets Lambda Extension emulated over Secrets Manager
(``stack.extension``).

Neither the product nor the local server: the local server, the operator CLI, the benchmarks,
the tools and the tests all build their world from here, so none of them depends on another.
"""
