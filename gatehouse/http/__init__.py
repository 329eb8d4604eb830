"""The HTTP side: the aiohttp application, its routes and the OpenAPI document."""
