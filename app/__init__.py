"""edgeroom: the chat and game Worker. Runs unchanged on Cloudflare Python Workers and on primitives."""
