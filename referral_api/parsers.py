"""Request parsers: DRF's, made safe for every input a client can send."""

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a document nested too deeply for Python's decoder is a parse error."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json.loads raises RecursionError (not ValueError) past ~1,000 levels: without this
            # a few kilobytes of brackets would be a 500.
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
