"""Test Worker: PUT /objects/<key> stores the request body in R2, GET streams it back."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from primitives import Headers, Request, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        path = urlsplit(request.url).path
        if not path.startswith("/objects/"):
            return Response("not found", status=404)
        key = unquote(path.removeprefix("/objects/"))
        bucket = self.env.UPLOADS
        if request.method == "PUT":
            obj = await bucket.put(key, request.body, httpMetadata=request.headers)
            return Response.json({"key": obj.key, "size": obj.size, "etag": obj.etag})
        if request.method == "GET":
            obj = await bucket.get(key, range=request.headers, onlyIf=request.headers)
            if obj is None:
                return Response("not found", status=404)
            headers = Headers()
            obj.writeHttpMetadata(headers)
            headers.set("etag", obj.httpEtag)
            if "body" not in obj:
                return Response(None, status=304, headers=headers)
            ranged = obj.range["length"] != obj.size
            return Response(obj, status=206 if ranged else 200, headers=headers)
        return Response("method not allowed", status=405)
