"""Domain code of the books API, shared by every function through the shared layer.

Nothing here knows about API Gateway events except ``http`` (the Powertools adapter) and
``observability`` (the Powertools singletons).
"""
