"""/console: the web console's pages, scripts and front-end libraries, served by the gateway
itself, so production needs no separate front-end server. `/` leads to it."""

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).parent / "static"
# Where `npm ci` (run by `make setup`) puts the front-end libraries in a checkout.
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# name in /console/vendor/ -> file under node_modules
VENDOR = {"chart.js": Path("chart.js/dist/chart.umd.min.js")}
# Browsers revalidate every time (cheap with ETags), so a new release shows at once.
NO_CACHE = {"Cache-Control": "no-cache"}


def console_router(node_modules: Path = NODE_MODULES) -> APIRouter:
    """The console's routes, serving front-end libraries from `node_modules`."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @router.get("/console")
    async def console() -> RedirectResponse:
        return RedirectResponse("/console/")

    @router.get("/console/")
    async def index() -> FileResponse:
        """The single page; the part of the URL after `#` picks the view."""
        return FileResponse(STATIC / "index.html", headers=NO_CACHE)

    @router.get("/console/vendor/{name}")
    async def vendor(name: str) -> FileResponse:
        """A front-end library, e.g. chart.js."""
        if name not in VENDOR:
            raise HTTPException(404, f"No front-end library named '{name}'.")
        path = node_modules / VENDOR[name]
        if not path.is_file():
            raise HTTPException(404, f"The front-end library '{name}' is not installed at "
                                     f"{path}: run `npm ci` (part of `make setup`).")
        return FileResponse(path, media_type="text/javascript", headers=NO_CACHE)

    @router.get("/console/{path:path}")
    async def asset(path: str) -> FileResponse:
        """A script or style sheet of the console."""
        file = (STATIC / path).resolve()
        if not file.is_relative_to(STATIC.resolve()) or not file.is_file():
            raise HTTPException(404, f"The console has no file '{path}'.")
        return FileResponse(file, headers=NO_CACHE)

    return router
