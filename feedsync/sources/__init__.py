"""Sources: stream catalog files as ``Record`` values (file, line, dict of str).

Contract (every reader follows it):
- ``open_catalog(path, options) -> Source``; ``Source.records()`` yields ``Record`` or,
  for a row that cannot be read (ragged, undecodable, broken JSON line), a ``RowProblem``
  in its place. A row problem never stops the run and is never dropped silently.
- A catalog that cannot be read at all (missing, a directory, binary, truncated JSON,
  malformed XML) raises ``CatalogError`` naming file and, where known, line.
- Readers stream: memory does not grow with the catalog.
"""
