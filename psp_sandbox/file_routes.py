"""Files: GET /v1/files/{id} (the object) and GET /v1/files/{id}/contents (its bytes).

Stripe serves contents from its files host (the SDK's `files` base address, files.stripe.com);
the sandbox serves both on its one address, so a client points its `files` base there too.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from psp_sandbox import listing
from psp_sandbox.auth import authenticate
from psp_sandbox.context import SandboxContext
from psp_sandbox.errors import invalid_request
from psp_sandbox.report_completions import contents_path


class FileRoutes:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context

    async def retrieve(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        return listing.retrieve_response(self._context.store, "file", request.path_params["id"])

    async def contents(self, request: Request) -> Response:
        authenticate(request.headers.get("authorization"), self._context.settings.api_key_prefix)
        file_id = request.path_params["id"]
        file = self._context.store.get(file_id, "file")
        path: Path = contents_path(self._context.settings.files_dir, file_id)
        if file is None or not path.exists():  # noqa: ASYNC240 (a stat, on local disk)
            raise invalid_request(
                f"No such file upload: '{file_id}'", param="id", code="resource_missing", status=404
            )
        return FileResponse(path, media_type="text/csv", filename=file["filename"])
