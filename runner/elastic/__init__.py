"""Elasticsearch: request bodies (``requests``), response parsing (``responses``), the client
with retries and error mapping (``client``, ``errors``), ``_bulk`` (``bulk``), the two backend
halves (``events``, ``store``) and index setup (``setup``).

Nothing is imported here, so ``runner rules show --explain`` does not load the client.  The
backend that composes the modules is :class:`runner.backends.elasticsearch.ElasticsearchBackend`.
"""
