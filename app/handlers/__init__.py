"""HTTP handlers: ``async def handler(request, env, ctx, **params) -> Response``, thin glue over D1, KV and rooms."""
